import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics, one registry per process (served at /metrics). Names are part of what operators
 * build dashboards on: keep them.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'rebuild_desk_requests_total',
    help: 'Messages received, by decision kind and reason',
    labelNames: ['decision', 'reason'] as const,
    registers: [this.registry],
  });

  readonly automaticSuppressed = new Counter({
    name: 'rebuild_desk_automatic_suppressed_total',
    help: 'Automatic mail recorded and never answered, by rule',
    labelNames: ['rule'] as const,
    registers: [this.registry],
  });

  readonly smtpReplies = new Counter({
    name: 'rebuild_desk_smtp_replies_total',
    help: 'Final SMTP replies to DATA, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly noticesSent = new Counter({
    name: 'rebuild_desk_notices_sent_total',
    help: 'Notices handed to the relay or written to the outbox, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly noticesFailed = new Counter({
    name: 'rebuild_desk_notices_failed_total',
    help: 'Notice delivery attempts that failed, by kind and whether it will be retried',
    labelNames: ['kind', 'final'] as const,
    registers: [this.registry],
  });

  readonly rebuildDuration = new Histogram({
    name: 'rebuild_desk_rebuild_duration_seconds',
    help: 'Time from rebuild start to access re-enabled, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [this.registry],
  });

  readonly accountsByState = new Gauge({
    name: 'rebuild_desk_accounts',
    help: 'Accounts per state (queued, prioritized, rebuilding, done, failed)',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }
}
