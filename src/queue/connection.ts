import { Redis, type RedisOptions } from 'ioredis';

/**
 * Two kinds of Redis connection.
 *
 * Producers (SMTP intake, CLI, web) must fail fast while Redis is down, so the SMTP session can answer
 * 451 and the sender's MTA retries: without `enableOfflineQueue: false` ioredis queues commands until
 * Redis is back and `queue.add` hangs. Workers block on Redis by design and need
 * `maxRetriesPerRequest: null` (a BullMQ requirement for blocking commands).
 */
export function producerConnection(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 5_000,
    // Commands issued in the same tick (many SMTP sessions at once) go out in one write.
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    ...extra,
  });
}

export function workerConnection(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    ...extra,
  });
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function waitReady(redis: Redis, timeoutMs = 5_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
