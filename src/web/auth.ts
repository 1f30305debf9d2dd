import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SignedCookies } from './cookies';
import { BOARD_PATH, PUBLIC_ROUTES, SESSION_COOKIE } from './paths';
import type { SessionStore, StaffSession } from './session-store';

/**
 * Access control for every route, installed on the root instance so it covers routes added later,
 * Bull Board's included:
 *
 * - onRequest: a route not in PUBLIC_ROUTES needs a live session. Matched on the route pattern, not
 *   the raw URL, so encodings and trailing slashes cannot sneak past; unknown URLs need a login too, so
 *   nobody can map the site without one. Pages redirect to /login, anything else gets 401.
 * - preHandler (after the body is parsed): every state-changing request must prove it comes from our
 *   own page (cross-site request forgery). Forms carry the session's token in `_csrf`; Bull Board's
 *   JSON API cannot carry one, so there the browser's `Origin` header must be our own origin (browsers
 *   send it on every non-GET request). The session cookie is also SameSite=Strict: a request from
 *   another site arrives without it at all; the token is the second, independent lock.
 */

declare module 'fastify' {
  interface FastifyRequest {
    staffSession: StaffSession | null;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function installAuth(app: FastifyInstance, sessions: SessionStore, cookies: SignedCookies): void {
  app.decorateRequest('staffSession', null);

  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.url !== undefined && PUBLIC_ROUTES.has(request.routeOptions.url)) return;
    const session = await readSession(request, sessions, cookies);
    if (!session) return refuseAnonymous(request, reply);
    request.staffSession = session;
    // Pages show customers' data: not to be kept by the browser or a proxy after logout.
    reply.header('cache-control', 'no-store');
  });

  app.addHook('preHandler', async (request, reply) => {
    const session = request.staffSession;
    if (!session || SAFE_METHODS.has(request.method)) return;
    const ok = request.routeOptions.url?.startsWith(`${BOARD_PATH}/api/`) ? sameOrigin(request) : tokenMatches(formToken(request.body), session.csrf);
    if (!ok) {
      request.log.warn({ staff: session.staff, url: request.routeOptions.url }, 'refused a state-changing request without a valid anti-CSRF token');
      return reply.code(403).type('text/plain; charset=utf-8').send('This form has expired or did not come from this site. Reload the page and try again.');
    }
  });
}

export async function readSession(request: FastifyRequest, sessions: SessionStore, cookies: SignedCookies): Promise<StaffSession | null> {
  const id = cookies.read(request, SESSION_COOKIE);
  return id ? sessions.get(id) : null;
}

function refuseAnonymous(request: FastifyRequest, reply: FastifyReply) {
  const isPage = (request.method === 'GET' || request.method === 'HEAD') && !request.url.startsWith(`${BOARD_PATH}/api/`);
  if (isPage) return reply.redirect(`/login?${new URLSearchParams({ next: request.url })}`, 303);
  return reply.code(401).type('text/plain; charset=utf-8').send('Log in first.');
}

function formToken(body: unknown): unknown {
  return body && typeof body === 'object' ? (body as Record<string, unknown>)._csrf : undefined;
}

/** Constant-time, so the token cannot be guessed byte by byte from response times. */
export function tokenMatches(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Origin is our own, or, where a browser withholds it (`Origin: null` under some referrer policies),
 * Sec-Fetch-Site says same-origin. Only browsers set these headers and only browsers can be tricked
 * into a forged request, so a script without them is not a CSRF risk — it is refused all the same.
 */
function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (typeof origin === 'string' && origin !== 'null') return origin === `${request.protocol}://${request.host}`;
  return request.headers['sec-fetch-site'] === 'same-origin';
}
