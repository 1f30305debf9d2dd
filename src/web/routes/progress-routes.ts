import type { FastifyInstance } from 'fastify';
import { normalizeAccount } from '../../accounts/account-name';
import type { Services } from '../../services';
import { progressPage } from '../pages/progress-page';
import { statusPage } from '../pages/status-page';
import { contextOf } from './review-routes';

export function progressRoutes(app: FastifyInstance, services: Services): void {
  app.get('/progress', async (request, reply) => {
    const [counts, ratePerMinute] = await Promise.all([services.rebuilds.counts(), services.rebuilds.ratePerMinute()]);
    return reply.type('text/html; charset=utf-8').send(progressPage({ counts, ratePerMinute, now: Date.now() }, contextOf(request)));
  });

  app.get<{ Querystring: { account?: string } }>('/status', async (request, reply) => {
    const input = (request.query.account ?? '').trim().slice(0, 254);
    const account = input ? normalizeAccount(input) : null;
    const [status, requestIds] = account
      ? await Promise.all([services.rebuilds.status(account), services.requests.requestIdsForAccount(account)])
      : [null, []];
    const known = account ? services.directory.has(account) : false;
    return reply.type('text/html; charset=utf-8').send(statusPage({ input, status, known, requestIds }, contextOf(request)));
  });
}
