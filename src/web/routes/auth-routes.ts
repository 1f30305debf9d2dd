import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readSession, tokenMatches } from '../auth';
import type { SignedCookies } from '../cookies';
import type { LoginLimiter } from '../login-limiter';
import { loginPage } from '../pages/login-page';
import { LOGIN_COOKIE, SESSION_COOKIE, safeNext } from '../paths';
import type { SessionStore } from '../session-store';
import { normalizeStaffName, type StaffStore } from '../staff-store';

export interface AuthRouteDeps {
  staff: StaffStore;
  sessions: SessionStore;
  limiter: LoginLimiter;
  cookies: SignedCookies;
}

/** One message for an unknown name and a wrong password, so the form does not reveal who has a login. */
const BAD_LOGIN = 'Wrong name or password.';

/** Serving a login form is cheap; an hour is long enough to find a password manager. */
const LOGIN_FORM_SECONDS = 3600;

interface LoginBody {
  name?: string;
  password?: string;
  _csrf?: string;
  next?: string;
}

export function authRoutes(app: FastifyInstance, deps: AuthRouteDeps): void {
  // Login forms are protected too (login CSRF: another site logging a staff member into a login of the
  // attacker's choosing): a random token both in a cookie and in the form, which another site can
  // neither read nor set. There is no session yet to hold it.
  const showLogin = (request: FastifyRequest, reply: FastifyReply, next: string, extra: { name?: string; error?: string } = {}) => {
    // Reuse a token already issued: a browser may load the form twice (another tab, the favicon's
    // redirect), and a fresh cookie would void the form already on screen.
    const token = deps.cookies.read(request, LOGIN_COOKIE) ?? randomBytes(24).toString('base64url');
    deps.cookies.set(request, reply, LOGIN_COOKIE, token, { path: '/login', maxAgeSeconds: LOGIN_FORM_SECONDS });
    reply.header('cache-control', 'no-store');
    return reply.type('text/html; charset=utf-8').send(loginPage({ token, next, ...extra }));
  };

  app.get<{ Querystring: { next?: string } }>('/login', async (request, reply) => showLogin(request, reply, safeNext(request.query.next)));

  app.post<{ Body: LoginBody }>('/login', async (request, reply) => {
    const body = request.body ?? {};
    const next = safeNext(body.next);
    const expected = deps.cookies.read(request, LOGIN_COOKIE);
    if (!expected || !tokenMatches(body._csrf, expected)) {
      reply.code(403);
      return showLogin(request, reply, next, { error: 'The login form expired. Please try again.' });
    }

    const typed = String(body.name ?? '').trim().toLowerCase().slice(0, 64);
    const name = normalizeStaffName(typed) ?? '(invalid)';
    const ip = request.ip;
    const wait = await deps.limiter.blockedFor(ip, name);
    if (wait > 0) {
      request.log.warn({ ip }, 'staff login refused: too many failed attempts');
      reply.code(429).header('retry-after', String(wait));
      return showLogin(request, reply, next, { name: typed, error: `Too many failed logins. Try again in ${Math.ceil(wait / 60)} minutes.` });
    }

    if (!(await deps.staff.verify(name, String(body.password ?? '')))) {
      await deps.limiter.recordFailure(ip, name);
      // An unknown name is logged as such: people type their password into the name field.
      request.log.warn({ staff: (await deps.staff.exists(name)) ? name : '(unknown name)', ip }, 'staff login failed');
      reply.code(401);
      return showLogin(request, reply, next, { name: typed, error: BAD_LOGIN });
    }

    await deps.limiter.recordSuccess(ip, name);
    // Session fixation: whatever session cookie the browser brought is dropped, and the login gets a new id.
    const previous = await readSession(request, deps.sessions, deps.cookies);
    if (previous) await deps.sessions.destroy(previous.id);
    const session = await deps.sessions.create(name);
    request.log.info({ staff: name, ip }, 'staff logged in');
    deps.cookies.clear(request, reply, LOGIN_COOKIE, '/login');
    deps.cookies.set(request, reply, SESSION_COOKIE, session.id, { path: '/', maxAgeSeconds: deps.sessions.maxAgeSeconds });
    return reply.redirect(next, 303);
  });

  app.post('/logout', async (request, reply) => {
    const session = request.staffSession;
    if (session) {
      await deps.sessions.destroy(session.id);
      request.log.info({ staff: session.staff }, 'staff logged out');
    }
    deps.cookies.clear(request, reply, SESSION_COOKIE, '/');
    return reply.redirect('/login', 303);
  });
}
