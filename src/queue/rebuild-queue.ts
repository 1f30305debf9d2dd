import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AccountState } from './account-state';
import { retryOptions, type RetryPolicy } from './retry';

/**
 * The rebuild queue (SPEC §3): one BullMQ job per account, id `a-<account>`, so an account is never
 * queued twice.
 *
 * Two levels. Priority requests are BullMQ jobs at priority 1. The backlog (up to millions of accounts)
 * lives in a Redis sorted set in arrival order and is fed into BullMQ at priority 100 only as workers
 * free up: a million BullMQ jobs would cost ~330 MB of Redis and load at ~18k/s, the sorted set costs a
 * third of that and loads several times faster. Both levels are prioritized jobs, because BullMQ runs
 * jobs without a priority before prioritized ones.
 *
 *   <prefix>:rebuild:*          BullMQ's own keys
 *   <prefix>:backlog            zset  account → arrival sequence
 *   <prefix>:backlog:seq        string the sequence
 *   <prefix>:account-state      hash  account → done | failed (kept after BullMQ removes the job)
 *   <prefix>:stats:state-count  hash  done → n, failed → n
 *   <prefix>:stats:done:<min>   string rebuilds finished in that minute, for the rate
 */

export const REBUILD_QUEUE = 'rebuild';
export const PRIORITY = { request: 1, backlog: 100 } as const;

/** BullMQ's score for a prioritized job is priority * 2^32 + counter (bullmq getPriorityScore.lua). */
const PRIORITY_SCORE_STEP = 0x100000000;

/** How many minutes of finished rebuilds the rate is measured over. */
const RATE_WINDOW_MINUTES = 15;

export interface RebuildJobData {
  account: string;
  source: 'request' | 'backlog' | 'staff';
}

export type PrioritizeOutcome = 'added' | 'raised' | 'already-prioritized' | 'rebuilding' | 'done' | 'requeued';

export interface AccountStatus {
  account: string;
  state: AccountState;
  /** 1-based place in line, null when not waiting. */
  position: number | null;
}

export interface StateCounts {
  queued: number;
  prioritized: number;
  rebuilding: number;
  done: number;
  failed: number;
}

// KEYS: backlog, seq, accountState   ARGV: jobKeyPrefix, account...
const ADD_BACKLOG_SCRIPT = `
local base = redis.call('INCRBY', KEYS[2], #ARGV - 1) - (#ARGV - 1)
local added = 0
for i = 2, #ARGV do
  local account = ARGV[i]
  if redis.call('EXISTS', ARGV[1] .. account) == 0
    and redis.call('HEXISTS', KEYS[3], account) == 0 then
    added = added + redis.call('ZADD', KEYS[1], 'NX', base + i - 1, account)
  end
end
return added
`;

// KEYS: accountState, stateCount   ARGV: account, newState ('done' | 'failed' | '' to clear)
const SET_STATE_SCRIPT = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old == ARGV[2] then return 0 end
if old then redis.call('HINCRBY', KEYS[2], old, -1) end
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) return 1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
return 1
`;

// KEYS: job, completed, failed, delayed, prioritized, active, wait, paused, waiting-children, backlog, accountState
// ARGV: jobId, account, request priority
// Returns {state, position (-1 for none), finished state or false, 1 when a BullMQ job holds the account}. One round trip and one consistent
// view for status(), instead of reading the job, then its state, then the backlog. The job's checks
// follow BullMQ's own getStateV2 script (completed, failed, delayed, prioritized, active, wait, paused,
// waiting-children); a job in none of them ('unknown', being removed) counts as gone.
const STATUS_SCRIPT = `
local id = ARGV[1]
local finished = redis.call('HGET', KEYS[11], ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('ZSCORE', KEYS[2], id) then return {'done', -1, finished, 1} end
  if redis.call('ZSCORE', KEYS[3], id) then return {'failed', -1, finished, 1} end
  local level = 'queued'
  if tonumber(redis.call('HGET', KEYS[1], 'priority') or '0') == tonumber(ARGV[3]) then level = 'prioritized' end
  -- In a retry backoff, or waiting without a priority: after the prioritized ones.
  if redis.call('ZSCORE', KEYS[4], id) then return {level, redis.call('ZCARD', KEYS[5]) + 1, finished, 1} end
  local rank = redis.call('ZRANK', KEYS[5], id)
  if rank then return {level, rank + 1, finished, 1} end
  if redis.call('LPOS', KEYS[6], id) then return {'rebuilding', -1, finished, 1} end
  if redis.call('LPOS', KEYS[7], id) or redis.call('LPOS', KEYS[8], id) or redis.call('ZSCORE', KEYS[9], id) then
    return {level, redis.call('ZCARD', KEYS[5]) + 1, finished, 1}
  end
end
local rank = redis.call('ZRANK', KEYS[10], ARGV[2])
if rank then
  local ahead = redis.call('ZCARD', KEYS[5]) + redis.call('LLEN', KEYS[7]) + redis.call('LLEN', KEYS[8]) + redis.call('ZCARD', KEYS[4])
  return {'queued', ahead + rank + 1, finished, 0}
end
if finished == 'done' or finished == 'failed' then return {finished, -1, finished, 0} end
return {'none', -1, finished, 0}
`;

/** Minutes until a rebuild at `position` starts at `ratePerMinute`; undefined before any rate is known. */
export function estimateMinutes(position: number, ratePerMinute: number): number | undefined {
  return ratePerMinute > 0 ? Math.ceil(position / ratePerMinute) : undefined;
}

export function rebuildJobId(account: string): string {
  return `a-${account}`;
}

export const DEFAULT_REBUILD_RETRY: RetryPolicy = { attempts: 5, delayMs: 30_000 };

export class RebuildQueue {
  readonly queue: Queue<RebuildJobData>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly retry: RetryPolicy = DEFAULT_REBUILD_RETRY,
  ) {
    this.queue = new Queue<RebuildJobData>(REBUILD_QUEUE, {
      connection: redis,
      prefix,
      // Fail fast while Redis is down instead of waiting: the SMTP session answers 451 (SPEC §4.4).
      skipWaitingForReady: true,
      defaultJobOptions: {
        removeOnComplete: { count: 1_000 },
        removeOnFail: false,
      },
    });
  }

  private key(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  private bullKey(name: string): string {
    return `${this.prefix}:${REBUILD_QUEUE}:${name}`;
  }

  async getJob(account: string): Promise<Job<RebuildJobData> | undefined> {
    return this.queue.getJob(rebuildJobId(account));
  }

  /**
   * Puts an account at the front: adds it at priority 1, or raises its backlog job in place. Safe to
   * repeat and to race with the backlog feeder: the job is added before the backlog entry is removed,
   * so a crash in between leaves the account queued (twice noted, once run), never lost.
   */
  async prioritize(account: string, source: RebuildJobData['source'] = 'request'): Promise<PrioritizeOutcome> {
    const jobId = rebuildJobId(account);
    const backlog = this.key('backlog');
    const before = await this.lookup(account);
    let outcome: PrioritizeOutcome = 'added';
    switch (before.state) {
      case 'done':
      case 'rebuilding':
      case 'prioritized':
        await this.redis.zrem(backlog, account);
        return before.state === 'prioritized' ? 'already-prioritized' : before.state;
      case 'queued':
        if (before.hasJob) return this.raise(account);
        break; // in the backlog only: added below
      case 'failed':
        if (before.hasJob) {
          await (await this.queue.getJob(jobId))?.remove();
          outcome = 'requeued';
        }
        break;
      case 'none':
        break;
    }
    await this.queue.add('rebuild', { account, source }, { jobId, priority: PRIORITY.request, ...retryOptions(this.retry) });
    // Sent together, run in this order: clear a finished state, look again (the backlog feeder may have
    // added the same job id at backlog priority just before us, in which case our add did nothing), and
    // only then drop the backlog entry.
    const [, after] = await Promise.all([this.setState(account, ''), this.lookup(account), this.redis.zrem(backlog, account)]);
    if (after.state === 'queued' && after.hasJob) return this.raise(account);
    if (after.state === 'rebuilding' || after.state === 'done') return after.state;
    return outcome;
  }

  /** A backlog job already in BullMQ goes to priority in place. */
  private async raise(account: string): Promise<PrioritizeOutcome> {
    const job = await this.queue.getJob(rebuildJobId(account));
    if (job) await job.changePriority({ priority: PRIORITY.request });
    await this.redis.zrem(this.key('backlog'), account);
    return 'raised';
  }

  /** Adds accounts to the backlog in arrival order; accounts already queued or finished are skipped. */
  async addBacklog(accounts: string[]): Promise<number> {
    if (accounts.length === 0) return 0;
    return (await this.redis.eval(
      ADD_BACKLOG_SCRIPT,
      3,
      this.key('backlog'),
      this.key('backlog', 'seq'),
      this.key('account-state'),
      this.bullKey(rebuildJobId('')),
      ...accounts,
    )) as number;
  }

  /**
   * Moves backlog accounts into BullMQ so that about `target` jobs are waiting. Returns how many moved.
   * Runs in every worker process; two feeders racing add the same job ids, which BullMQ ignores.
   */
  async feed(target: number): Promise<number> {
    const waiting = await this.queue.getJobCountByTypes('prioritized', 'waiting');
    if (waiting >= target) return 0;
    const accounts = await this.redis.zrange(this.key('backlog'), '0', String(target - waiting - 1));
    if (accounts.length === 0) return 0;
    const states = await this.redis.hmget(this.key('account-state'), ...accounts);
    const fresh = accounts.filter((_, i) => states[i] === null);
    await this.queue.addBulk(
      fresh.map((account) => ({
        name: 'rebuild',
        data: { account, source: 'backlog' as const },
        opts: { jobId: rebuildJobId(account), priority: PRIORITY.backlog, ...retryOptions(this.retry) },
      })),
    );
    await this.redis.zrem(this.key('backlog'), ...accounts);
    return fresh.length;
  }

  async status(account: string): Promise<AccountStatus> {
    const { state, position } = await this.lookup(account);
    return { account, state, position };
  }

  /** The account's state and place in line, and the finished state kept for it, in one round trip. */
  private async lookup(account: string): Promise<{ state: AccountState; position: number | null; hasJob: boolean }> {
    const [state, position, , hasJob] = (await this.redis.eval(
      STATUS_SCRIPT,
      11,
      this.bullKey(rebuildJobId(account)),
      this.bullKey('completed'),
      this.bullKey('failed'),
      this.bullKey('delayed'),
      this.bullKey('prioritized'),
      this.bullKey('active'),
      this.bullKey('wait'),
      this.bullKey('paused'),
      this.bullKey('waiting-children'),
      this.key('backlog'),
      this.key('account-state'),
      rebuildJobId(account),
      account,
      PRIORITY.request,
    )) as [AccountState, number, string | null, number];
    return { state, position: position < 0 ? null : position, hasJob: hasJob === 1 };
  }

  /** Records the outcome of a rebuild so the state outlives the BullMQ job. */
  async setState(account: string, state: 'done' | 'failed' | ''): Promise<void> {
    await this.redis.eval(SET_STATE_SCRIPT, 2, this.key('account-state'), this.key('stats', 'state-count'), account, state);
  }

  async recordRebuildFinished(at = Date.now()): Promise<void> {
    const key = this.key('stats', 'done', String(Math.floor(at / 60_000)));
    await this.redis.multi().incr(key).expire(key, (RATE_WINDOW_MINUTES + 5) * 60).exec();
  }

  /** Rebuilds finished per minute over the last minutes, or 0 when none finished yet. */
  async ratePerMinute(now = Date.now()): Promise<number> {
    const minute = Math.floor(now / 60_000);
    const keys = Array.from({ length: RATE_WINDOW_MINUTES }, (_, i) => this.key('stats', 'done', String(minute - i)));
    const values = await this.redis.mget(...keys);
    const total = values.reduce((sum, v) => sum + Number(v ?? 0), 0);
    return total / RATE_WINDOW_MINUTES;
  }

  /** Minutes until a rebuild at `position` starts, from the measured rate; undefined before any rate is known. */
  async estimateMinutes(position: number | null): Promise<number | undefined> {
    if (position === null) return undefined;
    return estimateMinutes(position, await this.ratePerMinute());
  }

  async counts(): Promise<StateCounts> {
    const [backlog, prioritizedTotal, requestLevel, active, delayed, waiting, finished] = await Promise.all([
      this.redis.zcard(this.key('backlog')),
      this.redis.zcard(this.bullKey('prioritized')),
      this.redis.zcount(this.bullKey('prioritized'), 0, (PRIORITY.request + 1) * PRIORITY_SCORE_STEP - 1),
      this.queue.getActiveCount(),
      this.queue.getDelayedCount(),
      this.queue.getWaitingCount(),
      this.redis.hgetall(this.key('stats', 'state-count')),
    ]);
    return {
      queued: backlog + (prioritizedTotal - requestLevel) + waiting,
      prioritized: requestLevel + delayed,
      rebuilding: active,
      done: Number(finished.done ?? 0),
      failed: Number(finished.failed ?? 0),
    };
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
