import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { outboundJobId, type OutboundJob } from '../notify/notice';

/**
 * Outbound mail as jobs of their own queue (SPEC §3): a relay that is down delays notices, it never
 * loses them, and a notice is sent once because its job id is made from the request id and the kind.
 */
export const NOTICE_QUEUE = 'notices';

export interface NoticeRetry {
  attempts: number;
  /** First backoff delay; each retry waits twice as long as the one before. */
  delayMs: number;
}

/** 14 attempts from 10 s double up to ~23 hours of waiting in all: a relay outage of hours loses nothing. */
export const DEFAULT_NOTICE_RETRY: NoticeRetry = { attempts: 14, delayMs: 10_000 };

export class NoticeQueue {
  readonly queue: Queue<OutboundJob>;

  constructor(redis: Redis, prefix: string, private readonly retry: NoticeRetry = DEFAULT_NOTICE_RETRY) {
    this.queue = new Queue<OutboundJob>(NOTICE_QUEUE, {
      connection: redis,
      prefix,
      skipWaitingForReady: true,
      defaultJobOptions: { removeOnComplete: { age: 7 * 24 * 3600 }, removeOnFail: false },
    });
  }

  /** Queues a notice; a second call with the same request id and kind does nothing. */
  async send(job: OutboundJob, jobId: string = outboundJobId(job)): Promise<void> {
    await this.queue.add(job.kind, job, {
      jobId,
      attempts: this.retry.attempts,
      backoff: { type: 'exponential', delay: this.retry.delayMs },
    });
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
