import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Signed cookies, HMAC-SHA256 over the value (`value.signature`). Done here rather than with
 * @fastify/cookie: version 11 loads its parser with a dynamic `import()`, which Jest's CommonJS
 * runtime refuses without `--experimental-vm-modules`; our cookies are two fixed names with base64url
 * values, which needs no general parser.
 *
 * Every cookie is HttpOnly (no script reads it: a successful XSS cannot carry the session off) and
 * SameSite=Strict (a request started by another site arrives without it: the first lock against CSRF),
 * and Secure when the request came over HTTPS.
 */
export class SignedCookies {
  constructor(private readonly secret: string) {}

  private signature(value: string): string {
    return createHmac('sha256', this.secret).update(value).digest('base64url');
  }

  /** The value of a cookie whose signature is ours, or null (missing, tampered, signed with another key). */
  read(request: FastifyRequest, name: string): string | null {
    const raw = cookieValue(request.headers.cookie, name);
    const dot = raw?.lastIndexOf('.') ?? -1;
    if (!raw || dot <= 0) return null;
    const value = raw.slice(0, dot);
    const given = Buffer.from(raw.slice(dot + 1));
    const expected = Buffer.from(this.signature(value));
    return given.length === expected.length && timingSafeEqual(given, expected) ? value : null;
  }

  /** `value` must be cookie-safe (we only store base64url ids and tokens). */
  set(request: FastifyRequest, reply: FastifyReply, name: string, value: string, options: { path: string; maxAgeSeconds: number }): void {
    if (!/^[\w-]+$/.test(value)) throw new Error('cookie values are base64url');
    reply.header('set-cookie', serialize(request, name, `${value}.${this.signature(value)}`, options.path, options.maxAgeSeconds));
  }

  clear(request: FastifyRequest, reply: FastifyReply, name: string, path: string): void {
    reply.header('set-cookie', serialize(request, name, '', path, 0));
  }
}

function serialize(request: FastifyRequest, name: string, value: string, path: string, maxAgeSeconds: number): string {
  const parts = [`${name}=${value}`, `Path=${path}`, `Max-Age=${maxAgeSeconds}`, 'HttpOnly', 'SameSite=Strict'];
  if (request.protocol === 'https') parts.push('Secure');
  return parts.join('; ');
}

/** The first cookie of that name in a Cookie header (RFC 6265 §5.4: the most specific path comes first). */
function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return null;
}
