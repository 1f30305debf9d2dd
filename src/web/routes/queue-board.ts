import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services';
import { BOARD_PATH } from '../paths';

/** Bull Board for the rebuild and notice queues. Access control is the root hooks' job (auth.ts). */
export async function registerQueueBoard(app: FastifyInstance, services: Services): Promise<void> {
  const adapter = new FastifyAdapter();
  createBullBoard({
    queues: [new BullMQAdapter(services.rebuilds.queue), new BullMQAdapter(services.notices.queue)],
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'rebuild-desk' } },
  });
  adapter.setBasePath(BOARD_PATH);
  await app.register(adapter.registerPlugin(), { prefix: BOARD_PATH });
}
