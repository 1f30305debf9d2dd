import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { outboundJobId, type OutboundJob } from '../notify/notice';
import { retryOptions, type RetryPolicy } from './retry';

/**
 * Outbound mail as jobs of their own queue (SPEC §3): a relay that is down delays notices, it never
 * loses them, and a notice is sent once because its job id is made from the request id and the kind.
 */
export const NOTICE_QUEUE = 'notices';

/** 14 attempts from 10 s double up to ~23 hours of waiting in all: a relay outage of hours loses nothing. */
export const DEFAULT_NOTICE_RETRY: RetryPolicy = { attempts: 14, delayMs: 10_000 };

export class NoticeQueue {
  readonly queue: Queue<OutboundJob>;

  constructor(redis: Redis, prefix: string, private readonly retry: RetryPolicy = DEFAULT_NOTICE_RETRY) {
    this.queue = new Queue<OutboundJob>(NOTICE_QUEUE, {
      connection: redis,
      prefix,
      skipWaitingForReady: true,
      defaultJobOptions: { removeOnComplete: { age: 7 * 24 * 3600 }, removeOnFail: false },
    });
  }

  /** Queues a notice; a second call with the same request id and kind does nothing. */
  async send(job: OutboundJob, jobId: string = outboundJobId(job)): Promise<void> {
    await this.queue.add(job.kind, job, { jobId, ...retryOptions(this.retry) });
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
