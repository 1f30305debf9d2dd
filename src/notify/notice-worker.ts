import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { workerConnection } from '../queue/connection';
import { NOTICE_QUEUE } from '../queue/notice-queue';
import type { RequestStore } from '../requests/request-store';
import type { NoticeData, OutboundJob } from './notice';
import type { RenderedNotice, Templates } from './render';
import { UnsendableError, type Mailer } from './send';

/**
 * Sends the jobs of the notices queue (SPEC §3: retried with backoff while the relay is down, sent once).
 * A relay that refuses a message for good (5xx) is not asked again; anything else — 4xx, a refused
 * connection, a timeout — is thrown so BullMQ retries it with the job's backoff.
 */

export interface NoticeWorkerDeps {
  redisUrl: string;
  prefix: string;
  templates: Templates;
  mailer: Mailer;
  requests: RequestStore;
  metrics: Metrics;
  log: Logger;
  /** Messages handed to the relay at once; the pooled transport opens up to 5 connections. Default 5. */
  concurrency?: number;
}

export function startNoticeWorker(deps: NoticeWorkerDeps): { worker: Worker<OutboundJob>; close(): Promise<void> } {
  const connection = workerConnection(deps.redisUrl);
  const worker = new Worker<OutboundJob>(NOTICE_QUEUE, (job) => deliver(job, deps), {
    connection,
    prefix: deps.prefix,
    concurrency: deps.concurrency ?? 5,
  });
  worker.on('error', (err) => deps.log.error({ err: err.message }, 'notice worker error'));
  return {
    worker,
    async close() {
      await worker.close();
      // The worker does not close a connection it was given; this one is ours.
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}

async function deliver(job: Job<OutboundJob>, deps: NoticeWorkerDeps): Promise<void> {
  const data = job.data;
  const log = deps.log.child({ jobId: job.id, requestId: data.requestId, kind: data.kind, to: data.to });
  try {
    if (data.kind === 'forward') {
      const [record, raw] = await Promise.all([deps.requests.get(data.requestId), deps.requests.getRaw(data.requestId)]);
      if (!record || !raw) throw new UnrecoverableError(`request ${data.requestId} or its raw message is gone`);
      await deps.mailer.forward(data.to, data.requestId, raw, record.subject);
    } else {
      await deps.mailer.sendNotice(data, render(data, deps.templates));
    }
  } catch (err) {
    const permanent = err instanceof UnrecoverableError || err instanceof UnsendableError || isPermanentRefusal(err);
    const final = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    deps.metrics.noticesFailed.inc({ kind: data.kind, final: String(final) });
    log.warn({ err: (err as Error).message, responseCode: responseCode(err), attempt: job.attemptsMade + 1, final }, 'notice not delivered');
    if (permanent && !(err instanceof UnrecoverableError)) throw new UnrecoverableError((err as Error).message);
    throw err;
  }
  deps.metrics.noticesSent.inc({ kind: data.kind });
}

/** Templates were checked at start-up: a job they cannot render (bad data) will not render on a retry either. */
function render(data: NoticeData, templates: Templates): RenderedNotice {
  try {
    return templates.render(data);
  } catch (err) {
    throw new UnrecoverableError(`cannot render the ${data.kind} notice: ${(err as Error).message}`);
  }
}

/** RFC 5321 §4.2.1: a 5yz reply is a permanent failure; the same message will be refused again. */
function isPermanentRefusal(err: unknown): boolean {
  const code = responseCode(err);
  return code !== undefined && code >= 500 && code < 600;
}

function responseCode(err: unknown): number | undefined {
  const code = (err as { responseCode?: unknown } | null)?.responseCode;
  return typeof code === 'number' ? code : undefined;
}
