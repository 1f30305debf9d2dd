import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Staff logins in Redis, one hash per login at `<prefix>:staff:<name>`, plus the set
 * `<prefix>:staff-names` so "is there any login?" needs no SCAN over millions of request keys.
 *
 * Passwords are stored as salted scrypt hashes with their parameters beside them, so the cost can be
 * raised later without invalidating existing logins (each hash is checked with the parameters it was
 * made with).
 */

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/**
 * OWASP Password Storage Cheat Sheet, scrypt row "N=2^15, r=8, p=3": as strong as its 2^17/p=1 row but
 * with 32 MiB per hash instead of 128 MiB. scrypt runs on libuv's thread pool (4 threads by default),
 * so a burst of logins costs at most ~128 MiB of memory.
 */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 3 };

export const MIN_PASSWORD_LENGTH = 12;

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

/** Lower-case letters, digits, `.`, `_`, `-`: safe in a Redis key, a log line and a page. */
const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function normalizeStaffName(name: string): string | null {
  const lower = name.trim().toLowerCase();
  return NAME_PATTERN.test(lower) ? lower : null;
}

export class StaffStore {
  /** Hashed for unknown names so that "no such login" takes as long as "wrong password" (enumeration). */
  private dummy: Promise<{ salt: Buffer; params: ScryptParams }> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly params: ScryptParams = DEFAULT_SCRYPT,
  ) {}

  private key(name: string): string {
    return `${this.prefix}:staff:${name}`;
  }

  private get namesKey(): string {
    return `${this.prefix}:staff-names`;
  }

  /** Creates or resets a login. Throws on an invalid name or a password shorter than MIN_PASSWORD_LENGTH. */
  async setPassword(nameInput: string, password: string): Promise<string> {
    const name = normalizeStaffName(nameInput);
    if (!name) throw new Error('a staff name is 1-64 lower-case letters, digits, ".", "_" or "-"');
    if (password.length < MIN_PASSWORD_LENGTH) throw new Error(`a staff password has at least ${MIN_PASSWORD_LENGTH} characters`);
    const salt = randomBytes(SALT_LENGTH);
    const hash = await derive(password, salt, this.params);
    await this.redis
      .multi()
      .hset(this.key(name), {
        algorithm: 'scrypt',
        N: String(this.params.N),
        r: String(this.params.r),
        p: String(this.params.p),
        salt: salt.toString('base64'),
        hash: hash.toString('base64'),
        updated: String(Date.now()),
      })
      .sadd(this.namesKey, name)
      .exec();
    return name;
  }

  /** True only for an existing login with this password. Takes about as long either way. */
  async verify(nameInput: string, password: string): Promise<boolean> {
    const name = normalizeStaffName(nameInput);
    const stored = name ? await this.redis.hgetall(this.key(name)) : {};
    if (!stored.hash || !stored.salt) {
      const { salt, params } = await this.dummyHash();
      await derive(password, salt, params);
      return false;
    }
    const expected = Buffer.from(stored.hash, 'base64');
    const params = { N: Number(stored.N), r: Number(stored.r), p: Number(stored.p) };
    const actual = await derive(password, Buffer.from(stored.salt, 'base64'), params, expected.length);
    // Constant-time compare: a byte-by-byte early exit would leak how much of the hash matched.
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  async exists(nameInput: string): Promise<boolean> {
    const name = normalizeStaffName(nameInput);
    return name !== null && (await this.redis.exists(this.key(name))) === 1;
  }

  async names(): Promise<string[]> {
    return (await this.redis.smembers(this.namesKey)).sort();
  }

  async hasAny(): Promise<boolean> {
    return (await this.redis.scard(this.namesKey)) > 0;
  }

  private dummyHash(): Promise<{ salt: Buffer; params: ScryptParams }> {
    this.dummy ??= Promise.resolve({ salt: randomBytes(SALT_LENGTH), params: this.params });
    return this.dummy;
  }
}

function derive(password: string, salt: Buffer, params: ScryptParams, length = KEY_LENGTH): Promise<Buffer> {
  // Node's default maxmem (32 MiB) is exactly 128*N*r for the default parameters and scrypt needs a
  // little more; allow twice the working set.
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}
