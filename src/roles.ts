import type { Config } from './config';
import { handleMessage } from './intake/handle-message';
import { intakeDeps } from './intake/intake-deps';
import { startListener, type ListenerSettings } from './intake/smtp-listener';
import type { Logger } from './log';
import { notifyCompleted, notifyFailed } from './notify/completion';
import { startNoticeWorker } from './notify/notice-worker';
import { loadTemplates } from './notify/render';
import { createMailer } from './notify/send';
import type { Services } from './services';
import { NoStaffLoginError, startWeb } from './web/app';
import { startRebuildWorker } from './worker/rebuild-worker';

/**
 * The process roles (SPEC §4.1): `intake`, `worker` and `web` run one part each, for several machines;
 * `serve` runs all three in one process. Each returns its own stop function.
 */
export type Stop = () => Promise<void>;

/** The listener's settings from the environment's. */
export function listenerSettings(config: Config): ListenerSettings {
  return {
    host: config.SMTP_HOST,
    port: config.SMTP_PORT,
    lmtp: config.SMTP_LMTP,
    maxSize: config.SMTP_MAX_SIZE,
    maxConnections: config.SMTP_MAX_CONNECTIONS,
    maxConnectionsPerIp: config.SMTP_MAX_CONNECTIONS_PER_IP,
    idleTimeoutMs: config.SMTP_IDLE_TIMEOUT_MS,
    sessionTimeoutMs: config.SMTP_SESSION_TIMEOUT_MS,
    maxRecipients: config.SMTP_MAX_RECIPIENTS,
    maxHeaderSize: config.SMTP_MAX_HEADER_SIZE,
    intakeAddresses: config.INTAKE_ADDRESSES,
    tlsKeyFile: config.SMTP_TLS_KEY,
    tlsCertFile: config.SMTP_TLS_CERT,
  };
}

export async function startIntake(services: Services): Promise<{ port: number; stop: Stop }> {
  const { config, log, metrics } = services;
  // Templates are checked by every role, so a broken one stops start-up wherever it is deployed.
  await loadTemplates(config.TEMPLATES_DIR);
  const deps = intakeDeps(services);
  const listener = await startListener(
    listenerSettings(config),
    (raw, envelope) => handleMessage(raw, envelope, deps),
    log,
    metrics,
  );
  return { port: listener.port, stop: listener.close };
}

export async function startWorkers(services: Services): Promise<Stop> {
  const { config, log, metrics, requests, notices, rebuilds } = services;
  const templates = await loadTemplates(config.TEMPLATES_DIR);
  if (!config.REBUILD_COMMAND) {
    log.warn({ ms: config.SIMULATED_REBUILD_MS }, 'REBUILD_COMMAND is not set: rebuilds are SIMULATED (nothing is rebuilt, customers are still told it is done)');
  }
  if (config.REBUILD_COMMAND && !config.VERIFY_COMMAND) {
    log.warn('VERIFY_COMMAND is not set: a rebuild that exits 0 counts as done even if it matched no mailbox');
  }
  if (!config.OUTBOUND_SMTP_URL) log.warn({ dir: config.OUTBOX_DIR }, 'OUTBOUND_SMTP_URL is not set: notices are written to the outbox folder, not sent');

  const mailer = createMailer({ outboundUrl: config.OUTBOUND_SMTP_URL, outboxDir: config.OUTBOX_DIR, fromAddress: config.FROM_ADDRESS, log });
  const noticeWorker = startNoticeWorker({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX, templates, mailer, requests, metrics, log });
  const rebuildWorker = startRebuildWorker({
    redisUrl: config.REDIS_URL,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.WORKER_CONCURRENCY,
    steps: {
      rebuild: config.REBUILD_COMMAND,
      verify: config.VERIFY_COMMAND,
      enable: config.ENABLE_COMMAND,
      timeoutMs: config.REBUILD_TIMEOUT_MS,
      simulatedMs: config.SIMULATED_REBUILD_MS,
    },
    rebuilds,
    lockDurationMs: config.REBUILD_LOCK_MS,
    stalledIntervalMs: Math.max(1_000, Math.floor(config.REBUILD_LOCK_MS / 2)),
    onDone: async (account) => {
      await notifyCompleted(account, { requests, notices });
    },
    onFailed: async (account, detail) => {
      await notifyFailed(account, { requests, notices }, detail);
    },
    metrics,
    log,
  });
  return async () => {
    await Promise.allSettled([rebuildWorker.close(), noticeWorker.close()]);
    mailer.close();
  };
}

/**
 * The staff web. Without any staff login it refuses to start (there is no default password); under
 * `serve` the rest of the bot still runs, so a newcomer's `npm start` takes requests at once, and the
 * warning says how to get the review pages.
 */
export async function startWebRole(services: Services, role: 'serve' | 'web'): Promise<Stop> {
  try {
    const web = await startWeb(services);
    return web.close;
  } catch (err) {
    if (role === 'serve' && err instanceof NoStaffLoginError) {
      services.log.warn(err.message + ' The staff web is NOT running; SMTP intake and workers are.');
      return async () => undefined;
    }
    throw err;
  }
}

/**
 * Stops every role, newest first, on SIGINT or SIGTERM; a second signal exits at once. Returns the
 * same stop for other causes (an intake process told by its primary); calling it again does nothing.
 */
export function stopOnSignal(stops: Stop[], log: Logger, after: () => Promise<void>): (reason: string) => void {
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, 'stopping');
    void (async () => {
      for (const s of [...stops].reverse()) await s().catch((err: unknown) => log.warn({ err }, 'error while stopping'));
      await after();
      process.exit(0);
    })();
  };
  const onSignal = (signal: string) => {
    if (stopping) process.exit(1);
    stop(signal);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  return stop;
}

export function describeRoles(config: Config): Record<string, unknown> {
  return {
    smtp: `${config.SMTP_HOST}:${config.SMTP_PORT}${config.SMTP_LMTP ? ' (LMTP)' : ''}`,
    web: `http://${config.HTTP_HOST}:${config.HTTP_PORT}/`,
    redis: config.REDIS_URL,
    accounts: config.ACCOUNTS_FILE,
    rebuild: config.REBUILD_COMMAND ? config.REBUILD_COMMAND.join(' ') : 'simulated',
  };
}
