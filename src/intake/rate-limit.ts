import type { Redis } from 'ioredis';
import type { RateLimit } from './decide';

/**
 * Per-sender and per-account request counters in fixed windows (SPEC §5): over the limit the sender
 * hears once, then nothing, so the bot can never be used to flood a mailbox. Kept in Redis so every
 * intake process counts together.
 */
export interface RateLimits {
  perSender: number;
  perAccount: number;
  windowSeconds: number;
}

export async function countRequest(
  redis: Redis,
  prefix: string,
  who: { sender: string; account: string | null },
  limits: RateLimits,
  now = Date.now(),
): Promise<RateLimit> {
  const window = Math.floor(now / 1000 / limits.windowSeconds);
  const senderKey = `${prefix}:rl:sender:${who.sender}:${window}`;
  const multi = redis.multi().incr(senderKey).expire(senderKey, limits.windowSeconds);
  const accountKey = who.account ? `${prefix}:rl:account:${who.account}:${window}` : null;
  if (accountKey) multi.incr(accountKey).expire(accountKey, limits.windowSeconds);
  const results = (await multi.exec()) ?? [];
  const senderCount = Number(results[0]?.[1] ?? 0);
  const accountCount = accountKey ? Number(results[2]?.[1] ?? 0) : 0;
  if (senderCount <= limits.perSender && accountCount <= limits.perAccount) return 'within';
  // Over either limit, each sender hears once per window, then nothing.
  const notified = `${prefix}:rl:notified:${who.sender}:${window}`;
  return (await firstInWindow(redis, notified, limits.windowSeconds)) ? 'first-over' : 'over';
}

/** True the first time in a window for this key; used for replies sent at most once per window. */
export async function firstInWindow(redis: Redis, key: string, windowSeconds: number): Promise<boolean> {
  return (await redis.set(key, '1', 'EX', windowSeconds, 'NX')) === 'OK';
}
