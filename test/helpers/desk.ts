import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig, type Config } from '../../src/config';
import { createLogger } from '../../src/log';
import { openServices, type OpenedServices } from '../../src/open-services';
import { listenerSettings, startIntake, startWorkers, type Stop } from '../../src/roles';
import { handleMessage } from '../../src/intake/handle-message';
import { intakeDeps } from '../../src/intake/intake-deps';
import { startListener, type Listener } from '../../src/intake/smtp-listener';
import type { Authenticator } from '../../src/intake/verify';
import { testPrefix } from './redis-server';

/** The example accounts, as shipped: jdoe@, alice@ and bob@example.com among them. */
export const ACCOUNTS_FILE = resolve(__dirname, '../../examples/accounts.csv');
export const RECORDER = resolve(__dirname, 'record-rebuild.sh');

export interface Desk {
  config: Config;
  services: OpenedServices;
  smtpPort: number;
  outbox: string;
  startWorkers(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The bot assembled in this process the way `serve` assembles it, on free ports, under a key prefix of
 * its own. Workers start with the desk unless `workers: false`.
 */
export async function startDesk(redisUrl: string, env: Record<string, string> = {}, options: { workers?: boolean; intake?: boolean } = {}): Promise<Desk> {
  const outbox = mkdtempSync(join(tmpdir(), 'rebuild-desk-outbox-'));
  const config = loadConfig({
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: testPrefix('desk'),
    SMTP_PORT: '0',
    ACCOUNTS_FILE,
    OUTBOX_DIR: outbox,
    SIMULATED_REBUILD_MS: '50',
    REBUILD_RETRY_DELAY_MS: '200',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const services = await openServices(config, createLogger(config.LOG_LEVEL));
  const stops: Stop[] = [];
  let smtpPort = 0;
  if (options.intake !== false) {
    const intake = await startIntake(services);
    smtpPort = intake.port;
    stops.push(intake.stop);
  }
  const desk: Desk = {
    config,
    services,
    smtpPort,
    outbox,
    startWorkers: async () => {
      stops.push(await startWorkers(services));
    },
    stop: async () => {
      for (const stop of stops.reverse()) await stop();
      await services.close();
    },
  };
  if (options.workers !== false) await desk.startWorkers();
  return desk;
}

/** Lines the recorder wrote, e.g. ["start jdoe@example.com", "end jdoe@example.com"]. */
export function recorded(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

export async function waitUntil<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A second SMTP listener on the desk's services whose flow uses `authenticate` instead of the one
 * AUTH_MODE builds: how tests give `verify` a DNS resolver that serves keys and policies from memory.
 */
export async function startListenerWith(desk: Desk, authenticate: Authenticator): Promise<Listener> {
  const { config, log, metrics } = desk.services;
  const deps = { ...intakeDeps(desk.services), authenticate };
  return startListener(
    { ...listenerSettings(config), port: 0, tlsKeyFile: undefined, tlsCertFile: undefined },
    (raw, envelope) => handleMessage(raw, envelope, deps),
    log,
    metrics,
  );
}
