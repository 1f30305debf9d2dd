import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { STYLE_HASH } from './layout';
import { BOARD_PATH } from './paths';

/**
 * Security headers from helmet, with a Content-Security-Policy written out in full (helmet's defaults
 * add `upgrade-insecure-requests`, which breaks a staff page served over plain HTTP on an internal
 * address).
 *
 * Our own pages run no script at all and allow only their own inline style sheet, by hash: even if an
 * escaping bug let markup from an email through, it could not run. Bull Board is a React app that
 * loads its scripts from itself, styles elements inline and uses `<base href>`, so under BOARD_PATH the
 * policy allows exactly that (`'self'` scripts, inline styles, `base-uri 'self'`). Its Google Fonts link
 * stays blocked: staff browsers make no third-party requests, and the board falls back to system fonts.
 */
export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  const onBoard = (req: IncomingMessage) => (req.url ?? '').startsWith(`${BOARD_PATH}/`) || req.url === BOARD_PATH;
  const either = (board: string, ours: string) => (req: IncomingMessage) => (onBoard(req) ? board : ours);
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'none'"],
        'script-src': [either("'self'", "'none'")],
        'style-src': ["'self'", either("'unsafe-inline'", STYLE_HASH)],
        'img-src': ["'self'", 'data:'],
        'font-src': ["'self'"],
        'connect-src': ["'self'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
        'base-uri': [either("'self'", "'none'")],
      },
    },
    // Staff pages show customers' addresses: never leak the URL (with its search terms) to another
    // site. `same-origin` rather than `no-referrer`: under the latter browsers send `Origin: null` on
    // same-site POSTs and PUTs, and the dashboard's API checks Origin (auth.ts).
    referrerPolicy: { policy: 'same-origin' },
  });
}
