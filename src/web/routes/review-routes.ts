import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { approve, isReviewErrorCode, isReviewReason, reassign, reject, ReviewError } from '../../requests/review-actions';
import type { Services } from '../../services';
import { query } from '../html';
import type { PageContext } from '../layout';
import { messagePage } from '../pages/message-page';
import { reviewItemPage, type ReviewItemView } from '../pages/review-item-page';
import { reviewListPage } from '../pages/review-list-page';

const PAGE_SIZE = 50;

/** Request ids are `R-` and base32; anything else (a `:` in particular) must never reach a Redis key. */
const ID_PATTERN = '^R-[0-9A-Z]{1,32}$';
const idParams = { type: 'object', properties: { id: { type: 'string', pattern: ID_PATTERN } }, required: ['id'] } as const;

interface ListQuery {
  reason?: string;
  q?: string;
  status?: string;
  page?: string;
}

export function contextOf(request: FastifyRequest): PageContext {
  const session = request.staffSession;
  if (!session) throw new Error('no session on a route that requires one');
  return { staff: session.staff, csrf: session.csrf };
}

export function reviewRoutes(app: FastifyInstance, services: Services): void {
  app.get('/', async (_request, reply) => reply.redirect('/review', 303));

  app.get<{ Querystring: ListQuery }>('/review', async (request, reply) => {
    const q = request.query;
    const reason = isReviewReason(q.reason) ? q.reason : '';
    const search = (q.q ?? '').trim().toLowerCase().slice(0, 200);
    const status = q.status === 'all' ? 'all' : 'open';
    const page = Math.max(1, Math.min(10_000, Number.parseInt(q.page ?? '1', 10) || 1));
    const { items, total } = await services.requests.listReview({
      reason: reason || undefined,
      search: search || undefined,
      status,
      offset: (page - 1) * PAGE_SIZE,
      limit: PAGE_SIZE,
    });
    return reply.type('text/html; charset=utf-8').send(reviewListPage({ items, total, reason, search, status, page, pageSize: PAGE_SIZE }, contextOf(request)));
  });

  app.get<{ Params: { id: string }; Querystring: { done?: string; error?: string } }>('/review/:id', { schema: { params: idParams } }, async (request, reply) => {
    const { id } = request.params;
    const record = await services.requests.get(id);
    if (!record) return notFound(request, reply);
    const [history, accountStatus] = await Promise.all([
      services.requests.history(id),
      record.account ? services.rebuilds.status(record.account) : Promise.resolve(null),
    ]);
    const { done, error } = request.query;
    const view: ReviewItemView = {
      record,
      history,
      accountStatus,
      done: done === 'approved' || done === 'rejected' || done === 'reassigned' ? done : undefined,
      error: isReviewErrorCode(error) ? error : undefined,
    };
    return reply.type('text/html; charset=utf-8').send(reviewItemPage(view, contextOf(request)));
  });

  app.get<{ Params: { id: string } }>('/review/:id/raw', { schema: { params: idParams } }, async (request, reply) => {
    const raw = await services.requests.getRaw(request.params.id);
    if (!raw) return notFound(request, reply);
    request.log.info({ staff: request.staffSession?.staff, requestId: request.params.id }, 'raw message downloaded');
    // An attachment, never rendered inline: the message is attacker-controlled content.
    return reply
      .type('message/rfc822')
      .header('content-disposition', `attachment; filename="${request.params.id}.eml"`)
      .send(raw);
  });

  const act = (name: 'approved' | 'rejected' | 'reassigned', run: (request: FastifyRequest<{ Params: { id: string }; Body: Record<string, string> }>, by: string) => Promise<unknown>) =>
    async (request: FastifyRequest<{ Params: { id: string }; Body: Record<string, string> }>, reply: FastifyReply) => {
      const by = contextOf(request).staff;
      const { id } = request.params;
      try {
        await run(request, by);
        request.log.info({ staff: by, requestId: id, action: name }, 'review item decided');
        return reply.redirect(`/review/${id}${query({ done: name })}`, 303);
      } catch (err) {
        if (!(err instanceof ReviewError)) throw err;
        request.log.info({ staff: by, requestId: id, refused: err.code }, 'review action refused');
        return reply.redirect(`/review/${id}${query({ error: err.code })}`, 303);
      }
    };

  const opts = { schema: { params: idParams } };
  app.post('/review/:id/approve', opts, act('approved', (request, by) => approve(services, request.params.id, by)));
  app.post('/review/:id/reject', opts, act('rejected', (request, by) => reject(services, request.params.id, by, stringField(request.body, 'message'))));
  app.post('/review/:id/reassign', opts, act('reassigned', (request, by) => reassign(services, request.params.id, by, stringField(request.body, 'account') ?? '')));
}

function stringField(body: unknown, name: string): string | undefined {
  const value = body && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' ? value : undefined;
}

function notFound(request: FastifyRequest, reply: FastifyReply) {
  return reply.code(404).type('text/html; charset=utf-8').send(messagePage('Not found', 'There is no such request.', contextOf(request)));
}
