import type { FastifyInstance } from 'fastify';
import { ACCOUNT_STATES } from '../../queue/account-state';
import type { Services } from '../../services';

/** A load balancer waits about this long; a Redis slower than that is as good as down for staff. */
const READY_TIMEOUT_MS = 1_000;

/**
 * Probes and metrics, reachable without a login (they show no customer data). /healthz says the process
 * is up; /readyz says it can do its work: Redis answers and the account directory is loaded.
 */
export function healthRoutes(app: FastifyInstance, services: Services): void {
  app.get('/healthz', async (_request, reply) => reply.type('text/plain').send('ok'));
  app.get('/favicon.ico', async (_request, reply) => reply.code(204).header('cache-control', 'max-age=86400').send());

  app.get('/readyz', async (_request, reply) => {
    const problems: string[] = [];
    if (!(await pingWithin(services, READY_TIMEOUT_MS))) problems.push('redis: no answer');
    if (services.directory.size === 0) problems.push('accounts: directory not loaded');
    return reply
      .code(problems.length ? 503 : 200)
      .type('text/plain')
      .send(problems.length ? problems.join('\n') : 'ready');
  });

  app.get('/metrics', async (request, reply) => {
    // The gauge is read from Redis on scrape, so every process reports the same shared numbers.
    try {
      const counts = await services.rebuilds.counts();
      for (const state of ACCOUNT_STATES) if (state !== 'none') services.metrics.accountsByState.set({ state }, counts[state]);
    } catch (err) {
      request.log.warn({ err }, 'could not read account counts for /metrics');
    }
    const registry = services.metrics.registry;
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

async function pingWithin(services: Services, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([services.redis.ping().then((r) => r === 'PONG'), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
