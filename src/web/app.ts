import formbody from '@fastify/formbody';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Services } from '../services';
import { installAuth } from './auth';
import { SignedCookies } from './cookies';
import { DEFAULT_LOGIN_LIMIT, LoginLimiter, type LoginLimit } from './login-limiter';
import { authRoutes } from './routes/auth-routes';
import { healthRoutes } from './routes/health-routes';
import { progressRoutes } from './routes/progress-routes';
import { registerQueueBoard } from './routes/queue-board';
import { reviewRoutes } from './routes/review-routes';
import { registerSecurityHeaders } from './security-headers';
import { sessionSecret } from './session-secret';
import { SESSION_TTL_SECONDS, SessionStore } from './session-store';
import { StaffStore } from './staff-store';

/** The staff web (SPEC §4.5): review list and actions, progress, Bull Board, health and metrics. */

export interface WebOptions {
  /** Failed logins allowed per window, per client address and per staff name. Default 5 per 15 minutes. */
  loginLimit?: LoginLimit;
  /** Absolute session lifetime. Default 8 hours. */
  sessionTtlSeconds?: number;
  /**
   * Behind a reverse proxy, which proxies to believe for the client address (fastify `trustProxy`), so
   * the login limit counts real clients rather than the proxy. Default: trust none.
   */
  trustProxy?: boolean | string | string[];
}

export class NoStaffLoginError extends Error {
  constructor() {
    super(
      'No staff login exists, so nobody could use the staff web. Create one with `rebuild-desk staff add NAME` ' +
        '(it asks for a password), or set STAFF_PASSWORD (12 characters or more) for a single `admin` login.',
    );
    this.name = 'NoStaffLoginError';
  }
}

/** Builds the app, not yet listening. Throws NoStaffLoginError when there is no way to log in. */
export async function buildWebApp(services: Services, options: WebOptions = {}): Promise<FastifyInstance> {
  const { redis, config } = services;
  const prefix = config.QUEUE_PREFIX;
  const log = services.log.child({ role: 'web' });

  const staff = new StaffStore(redis, prefix);
  await ensureAdminLogin(staff, config.STAFF_PASSWORD, log);
  if (!(await staff.hasAny())) throw new NoStaffLoginError();

  const sessions = new SessionStore(redis, prefix, options.sessionTtlSeconds ?? SESSION_TTL_SECONDS);
  const limiter = new LoginLimiter(redis, prefix, options.loginLimit ?? DEFAULT_LOGIN_LIMIT);

  const cookies = new SignedCookies(await sessionSecret(redis, prefix, config.SESSION_SECRET));
  const app = Fastify({ loggerInstance: log as FastifyBaseLogger, trustProxy: options.trustProxy ?? false });
  await app.register(formbody);
  await registerSecurityHeaders(app);
  installAuth(app, sessions, cookies);
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) request.log.error({ err }, 'staff web request failed');
    // Internal errors stay in the log: their messages can name Redis hosts and keys.
    return reply.code(status).type('text/plain; charset=utf-8').send(status >= 500 ? 'Something went wrong; the details are in the log.' : err.message);
  });

  healthRoutes(app, services);
  authRoutes(app, { staff, sessions, limiter, cookies });
  reviewRoutes(app, services);
  progressRoutes(app, services);
  await registerQueueBoard(app, services);
  return app;
}

export interface RunningWeb {
  app: FastifyInstance;
  close(): Promise<void>;
}

/** Starts the staff web on HTTP_HOST:HTTP_PORT. Closing it leaves the shared services open. */
export async function startWeb(services: Services, options?: WebOptions): Promise<RunningWeb> {
  const app = await buildWebApp(services, options);
  await app.listen({ host: services.config.HTTP_HOST, port: services.config.HTTP_PORT });
  return { app, close: () => app.close() };
}

/** STAFF_PASSWORD keeps an `admin` login with that password; rehashed only when it changed. */
async function ensureAdminLogin(staff: StaffStore, password: string | undefined, log: Services['log']): Promise<void> {
  if (!password || (await staff.verify('admin', password))) return;
  await staff.setPassword('admin', password);
  log.info('staff login "admin" set from STAFF_PASSWORD');
}
