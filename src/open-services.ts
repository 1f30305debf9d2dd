import { AccountDirectory } from './accounts/directory';
import type { Config } from './config';
import type { Logger } from './log';
import { Metrics } from './metrics';
import { producerConnection, waitReady } from './queue/connection';
import { DEFAULT_NOTICE_RETRY, NoticeQueue } from './queue/notice-queue';
import { RebuildQueue } from './queue/rebuild-queue';
import { RequestStore } from './requests/request-store';
import type { Services } from './services';

export interface OpenedServices extends Services {
  close(): Promise<void>;
}

/** Connects to Redis, loads the account directory (watching it for changes) and builds the shared parts. */
export async function openServices(config: Config, log: Logger, options: { watchDirectory?: boolean } = {}): Promise<OpenedServices> {
  const redis = producerConnection(config.REDIS_URL);
  redis.on('error', (err) => log.warn({ err: err.message }, 'Redis connection error'));
  try {
    await waitReady(redis, 10_000);
  } catch (err) {
    redis.disconnect();
    throw new Error(`cannot reach Redis at ${config.REDIS_URL}: ${(err as Error).message}`);
  }
  await warnAboutRedisSettings(redis, log);

  const directory = await AccountDirectory.load(config.ACCOUNTS_FILE);
  log.info({ file: config.ACCOUNTS_FILE, accounts: directory.size }, 'account directory loaded');
  if (options.watchDirectory) {
    directory.watch(
      (info) => log.info(info, 'account directory reloaded'),
      (err) => log.error({ file: config.ACCOUNTS_FILE, err: err.message }, 'account directory reload failed; keeping the previous one'),
    );
  }

  const requests = new RequestStore(redis, config.QUEUE_PREFIX);
  const rebuilds = new RebuildQueue(redis, config.QUEUE_PREFIX, { attempts: config.REBUILD_ATTEMPTS, delayMs: config.REBUILD_RETRY_DELAY_MS });
  const notices = new NoticeQueue(redis, config.QUEUE_PREFIX, { ...DEFAULT_NOTICE_RETRY, delayMs: config.NOTICE_RETRY_DELAY_MS });
  const metrics = new Metrics();
  return {
    config,
    log,
    redis,
    requests,
    rebuilds,
    notices,
    directory,
    metrics,
    close: async () => {
      directory.close();
      await Promise.allSettled([rebuilds.close(), notices.close()]);
      redis.disconnect();
    },
  };
}

/**
 * "250 means safe" needs a Redis that keeps what it was given: append-only file on, and no eviction
 * under memory pressure (an evicted request is a lost request). Warn loudly when that is not so.
 */
async function warnAboutRedisSettings(redis: import('ioredis').Redis, log: Logger): Promise<void> {
  try {
    const [, appendonly] = (await redis.config('GET', 'appendonly')) as string[];
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as string[];
    if (appendonly !== 'yes') log.warn({ appendonly }, 'Redis has appendonly off: accepted requests may be lost if Redis restarts. Set appendonly yes');
    if (policy !== 'noeviction') log.warn({ policy }, 'Redis may evict keys under memory pressure: set maxmemory-policy noeviction');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not read Redis settings (CONFIG GET refused?); make sure appendonly is yes and maxmemory-policy is noeviction');
  }
}
