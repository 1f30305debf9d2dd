import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Staff sessions in Redis: `<prefix>:web:session:<sha256(id)>` → JSON, expiring after a fixed time.
 *
 * The cookie carries the random id; Redis holds only its hash, so a copy of Redis (a backup, a replica
 * left open) does not hand out live sessions. The lifetime is absolute, not sliding: a stolen cookie
 * stops working at the end of the shift whatever the thief does with it.
 */

/** A working day. */
export const SESSION_TTL_SECONDS = 8 * 3600;

export interface StaffSession {
  /** The raw session id, as carried by the cookie. */
  id: string;
  staff: string;
  /** Per-session anti-CSRF token, put in every form and checked on every POST. */
  csrf: string;
  created: number;
}

export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds = SESSION_TTL_SECONDS,
  ) {}

  private key(id: string): string {
    return `${this.prefix}:web:session:${createHash('sha256').update(id).digest('hex')}`;
  }

  /** Always a fresh id: a session is never carried over from before login (session fixation). */
  async create(staff: string): Promise<StaffSession> {
    const session: StaffSession = { id: randomBytes(32).toString('base64url'), staff, csrf: randomBytes(32).toString('base64url'), created: Date.now() };
    const { id: _id, ...stored } = session;
    await this.redis.set(this.key(session.id), JSON.stringify(stored), 'EX', this.ttlSeconds);
    return session;
  }

  async get(id: string): Promise<StaffSession | null> {
    const stored = await this.redis.get(this.key(id));
    if (!stored) return null;
    return { id, ...(JSON.parse(stored) as Omit<StaffSession, 'id'>) };
  }

  async destroy(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }

  get maxAgeSeconds(): number {
    return this.ttlSeconds;
  }
}
