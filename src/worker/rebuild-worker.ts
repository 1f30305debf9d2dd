import { setTimeout as sleep } from 'node:timers/promises';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { workerConnection } from '../queue/connection';
import { REBUILD_QUEUE, type RebuildJobData, type RebuildQueue } from '../queue/rebuild-queue';
import { CommandFailed, InvalidAccount, runCommand } from './run-command';

/**
 * Runs rebuild jobs: rebuild → verify → enable → tell the requesters (SPEC §3). Both real rebuild
 * tools exit 0 even when they matched nothing, so VERIFY_COMMAND proves the index before ENABLE_COMMAND
 * gives access back, and the customer hears only after both passed.
 *
 * Locks: BullMQ renews a job's lock every lockDuration/2 while the processor runs, so a rebuild of
 * any length keeps its job as long as this process lives. A worker that dies stops renewing; after
 * lockDuration the stalled-job check hands the job to another worker (rebuild tools are idempotent).
 */

/** BullMQ's reason for a job that stalled more often than maxStalledCount (moveStalledJobsToWait). */
const STALLED_OUT = /stalled more than allowable limit/;

/** rebuild → verify → enable, each a command; without REBUILD_COMMAND the rebuild is simulated. */
async function runSteps(job: Job<RebuildJobData>, steps: RebuildSteps, jobLog: Logger): Promise<void> {
  const outputs: string[] = [];
  for (const [name, template] of [['rebuild', steps.rebuild], ['verify', steps.verify], ['enable', steps.enable]] as const) {
    if (!template) {
      if (name === 'rebuild' && steps.simulatedMs > 0) await sleep(steps.simulatedMs);
      continue;
    }
    jobLog.info({ step: name }, 'running');
    const result = await runCommand(template, job.data.account, steps.timeoutMs);
    outputs.push(`$ ${result.argv.join(' ')}\n${result.tail}`);
    await job.updateProgress({ step: name, done: true });
  }
  if (outputs.length > 0) await job.log(outputs.join('\n'));
}

export interface RebuildSteps {
  rebuild?: readonly string[];
  verify?: readonly string[];
  enable?: readonly string[];
  timeoutMs: number;
  /** Without REBUILD_COMMAND the rebuild is simulated by waiting this long. */
  simulatedMs: number;
}

export interface RebuildWorkerDeps {
  redisUrl: string;
  prefix: string;
  concurrency: number;
  steps: RebuildSteps;
  rebuilds: RebuildQueue;
  /** Called once the mailbox is back: the completion notices. */
  onDone(account: string): Promise<void>;
  /** Called after the last attempt failed: the delayed notices and a review item. */
  onFailed(account: string, detail: string): Promise<void>;
  metrics: Metrics;
  log: Logger;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** How often the backlog is fed into the queue when no job finished in between. */
  feedIntervalMs?: number;
}

export interface RebuildWorker {
  worker: Worker<RebuildJobData>;
  close(): Promise<void>;
}

export function startRebuildWorker(deps: RebuildWorkerDeps): RebuildWorker {
  const { log, steps, rebuilds } = deps;

  const processor = async (job: Job<RebuildJobData>) => {
    const { account } = job.data;
    const started = Date.now();
    const jobLog = log.child({ job: job.id, account, attempt: job.attemptsMade + 1 });
    try {
      await runSteps(job, steps, jobLog);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      if (err instanceof CommandFailed && err.tail) await job.log(err.tail).catch(() => undefined);
      const permanent = err instanceof InvalidAccount;
      const lastAttempt = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      jobLog.warn({ err: detail, lastAttempt }, 'rebuild step failed');
      if (lastAttempt) {
        // Told here rather than in a 'failed' event, so a crash between failing and notifying
        // cannot lose the notice: the job is still ours until this returns.
        await reportFailed(account, detail);
        deps.metrics.rebuildDuration.observe({ outcome: 'failed' }, (Date.now() - started) / 1000);
      }
      throw permanent ? new UnrecoverableError(detail) : err;
    }
    // The mailbox is back. What fails from here on is bookkeeping, not the rebuild: the job is retried
    // (every step is idempotent, the notices are sent once) and never reported to the customer as failed.
    await Promise.all([rebuilds.setState(account, 'done'), rebuilds.recordRebuildFinished()]);
    await deps.onDone(account);
    deps.metrics.rebuildDuration.observe({ outcome: 'done' }, (Date.now() - started) / 1000);
    jobLog.info({ ms: Date.now() - started }, 'rebuild done');
    return { account, ms: Date.now() - started };
  };

  const reportFailed = async (account: string, detail: string) => {
    await rebuilds.setState(account, 'failed');
    await deps.onFailed(account, detail);
  };

  const connection = workerConnection(deps.redisUrl);
  const worker = new Worker<RebuildJobData>(REBUILD_QUEUE, processor, {
    connection,
    prefix: deps.prefix,
    concurrency: deps.concurrency,
    lockDuration: deps.lockDurationMs ?? 60_000,
    stalledInterval: deps.stalledIntervalMs ?? 30_000,
    // A job whose worker died is retried this many times before it counts as failed.
    maxStalledCount: 3,
  });
  worker.on('error', (err) => log.warn({ err: err.message }, 'rebuild worker connection error'));
  // A job whose workers kept dying fails without reaching the processor: tell its requesters here.
  worker.on('failed', (job, err) => {
    if (!job || !STALLED_OUT.test(err.message)) return;
    reportFailed(job.data.account, err.message).catch((e: unknown) => log.error({ err: e instanceof Error ? e.message : e, account: job.data.account }, 'could not report a stalled-out rebuild'));
  });

  // Keep enough backlog jobs in BullMQ for every worker slot, and no more (see rebuild-queue.ts).
  const feedTarget = deps.concurrency * 2;
  let feeding = false;
  const feed = () => {
    if (feeding) return;
    feeding = true;
    rebuilds
      .feed(feedTarget)
      .catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : err }, 'could not feed the backlog'))
      .finally(() => {
        feeding = false;
      });
  };
  worker.on('completed', feed);
  worker.on('failed', feed);
  const feedTimer = setInterval(feed, deps.feedIntervalMs ?? 1_000);
  feed();

  return {
    worker,
    close: async () => {
      clearInterval(feedTimer);
      await worker.close();
      // The worker does not close a connection it was given; this one is ours, and left open it keeps
      // reconnecting for ever and the process never exits.
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
