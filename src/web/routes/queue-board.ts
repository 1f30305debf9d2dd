import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services';
import { BOARD_PATH } from '../paths';

type BoardAdapter = Parameters<typeof createBullBoard>[0]['serverAdapter'];

/** Bull Board for the rebuild and notice queues. Access control is the root hooks' job (auth.ts). */
export async function registerQueueBoard(app: FastifyInstance, services: Services): Promise<void> {
  const adapter = new FastifyAdapter();
  createBullBoard({
    queues: [new BullMQAdapter(services.rebuilds.queue), new BullMQAdapter(services.notices.queue)],
    // package.json asks for @bull-board/api 9.10.2 and @bull-board/fastify 9.10.1, which brings its own
    // 9.10.1 copy: the two declare the same class twice, so TypeScript sees different types. Same shape
    // at run time; the cast goes once the two versions are aligned.
    serverAdapter: adapter as unknown as BoardAdapter,
    options: { uiConfig: { boardTitle: 'rebuild-desk' } },
  });
  adapter.setBasePath(BOARD_PATH);
  await app.register(adapter.registerPlugin(), { prefix: BOARD_PATH });
}
