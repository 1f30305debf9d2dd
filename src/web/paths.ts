/** Where things live in the staff web, shared by the routes and the access checks. */

export const BOARD_PATH = '/admin/queues';

/**
 * Routes anyone may reach: the login form, what load balancers and Prometheus poll, and the favicon
 * browsers fetch on their own (redirected to /login it would only churn the login form's cookie).
 */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/login', '/healthz', '/readyz', '/metrics', '/favicon.ico']);

export const SESSION_COOKIE = 'rd_session';
export const LOGIN_COOKIE = 'rd_login';

/**
 * Where to go after logging in. Only a path on this site: `//evil.example` and `/\evil.example` are
 * read by browsers as other hosts (open redirect, a phishing aid).
 */
export function safeNext(next: unknown): string {
  if (typeof next !== 'string' || !/^\/(?![/\\])[\x21-\x7e]*$/.test(next) || next.startsWith('/login')) return '/review';
  return next;
}
