import type { Redis } from 'ioredis';

/**
 * Counts failed logins per client address and per staff name in Redis, so every web process shares
 * the count. Per address stops one machine guessing; per name stops a botnet guessing one login's
 * password from many addresses. The price of the second: someone who knows a staff name can lock it
 * for one window — acceptable for a staff tool, and the lock lifts by itself.
 */

export interface LoginLimit {
  /** Failures allowed in a window before logins are refused. */
  max: number;
  windowSeconds: number;
}

/** Five tries covers typos and a caps-lock; a quarter of an hour makes guessing hopeless. */
export const DEFAULT_LOGIN_LIMIT: LoginLimit = { max: 5, windowSeconds: 15 * 60 };

export class LoginLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly limit: LoginLimit = DEFAULT_LOGIN_LIMIT,
  ) {}

  private keys(ip: string, name: string): [string, string] {
    return [`${this.prefix}:web:login-fail:ip:${ip}`, `${this.prefix}:web:login-fail:name:${name}`];
  }

  /** Seconds until another try is allowed, or 0 when allowed now. */
  async blockedFor(ip: string, name: string): Promise<number> {
    const keys = this.keys(ip, name);
    const counts = await this.redis.mget(...keys);
    let wait = 0;
    for (let i = 0; i < keys.length; i++) {
      if (Number(counts[i] ?? 0) >= this.limit.max) wait = Math.max(wait, await this.redis.ttl(keys[i]), 1);
    }
    return wait;
  }

  /** A fixed window from the first failure: SET NX starts it, INCR counts within it. */
  async recordFailure(ip: string, name: string): Promise<void> {
    const multi = this.redis.multi();
    for (const key of this.keys(ip, name)) multi.set(key, '0', 'EX', this.limit.windowSeconds, 'NX').incr(key);
    await multi.exec();
  }

  /** After a good login the name's count starts over; the address's does not, so one good login cannot launder guesses at others. */
  async recordSuccess(ip: string, name: string): Promise<void> {
    await this.redis.del(this.keys(ip, name)[1]);
  }
}
