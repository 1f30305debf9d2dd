import type { Redis } from 'ioredis';
import type { AccountLookup } from './accounts/directory';
import type { Config } from './config';
import type { Logger } from './log';
import type { Metrics } from './metrics';
import type { NoticeQueue } from './queue/notice-queue';
import type { RebuildQueue } from './queue/rebuild-queue';
import type { RequestStore } from './requests/request-store';

/**
 * What every role shares, built once by the entry point and passed down as plain arguments.
 * `redis` is a producer connection: it fails fast while Redis is down (see queue/connection.ts).
 */
export interface Services {
  config: Config;
  log: Logger;
  redis: Redis;
  requests: RequestStore;
  rebuilds: RebuildQueue;
  notices: NoticeQueue;
  directory: AccountLookup;
  metrics: Metrics;
}
