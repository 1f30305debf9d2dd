#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, SETTING_NAMES, type Config } from './config';
import { loadBacklog } from './cli/backlog-command';
import { EX_DATAERR, EX_TEMPFAIL, ingestRaw, readInput } from './cli/ingest-command';
import { runReviewCommand } from './cli/review-command';
import { runStaffCommand } from './cli/staff-command';
import { accountStatus } from './cli/status-command';
import { redisAnswers, startEmbeddedRedis, type EmbeddedRedis } from './embedded-redis';
import { intakeProcessCount, isIntakeProcess, runIntakeProcess, startIntakeCluster } from './intake/intake-cluster';
import { createLogger, type Logger } from './log';
import { openServices, type OpenedServices } from './open-services';
import { producerConnection, waitReady } from './queue/connection';
import { RebuildQueue } from './queue/rebuild-queue';
import { RequestStore } from './requests/request-store';
import { describeRoles, startIntake, startWebRole, startWorkers, stopOnSignal, type Stop } from './roles';

const HELP = `rebuild-desk — priority mailbox rebuild requests by email

Usage: rebuild-desk <command> [arguments]

Roles (long-running):
  serve                      SMTP listener, workers and staff web in one process (npm start)
  intake                     the SMTP/LMTP listener only
  worker                     the rebuild and notice workers only
  web                        the staff web only

Commands:
  backlog FILE|-             put every account of FILE (one per line, or the accounts CSV) in the
                             backlog at backlog priority; safe to run again
  status ACCOUNT             the account's state, place in line and requests, as JSON
  ingest FILE|- [--sender ADDR] [--recipient ADDR] [--client-address IP] [--helo NAME]
                             handle one raw message as if it arrived by SMTP (MTA pipe delivery);
                             exit 0 accepted, 75 try again later, 65 unusable input
  review list [--json] [--reason REASON] [--all]
  review approve ID          queue the account at priority and send the confirmation
  review reject ID [--message TEXT]
  review reassign ID ACCOUNT approve the request for another account
  staff add NAME             create or reset a staff login (password from the prompt or stdin)

Settings are environment variables, checked at start-up (see README.md):
  ${SETTING_NAMES.join(' ')}
`;

/** sysexits(3): a setting is wrong. */
const EX_CONFIG = 78;

async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...args] = argv;
  if (command === '--help' || command === '-h' || command === 'help' || args.includes('--help')) {
    process.stdout.write(HELP);
    return 0;
  }

  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`rebuild-desk: ${err.message}\n`);
    // An MTA piping into `ingest` must keep the message and retry, not bounce it, while settings are fixed.
    return command === 'ingest' ? EX_TEMPFAIL : EX_CONFIG;
  }
  const log = createLogger(config.LOG_LEVEL);

  switch (command) {
    case 'serve':
    case 'intake':
    case 'worker':
    case 'web':
      return runRoles(command, config, log);
    case 'backlog':
      return backlog(args, config);
    case 'status':
      return status(args, config);
    case 'ingest':
      return ingest(args, config, log);
    case 'review':
      return withServices(config, createLogger('warn'), (services) => runReviewCommand(args, services, process.stdout));
    case 'staff':
      return withServices(config, createLogger('warn'), (services) =>
        runStaffCommand(args, services, { stdin: process.stdin, stdout: process.stdout, isTTY: Boolean(process.stdin.isTTY) }),
      );
    default:
      process.stderr.write(`rebuild-desk: unknown command ${JSON.stringify(command)}\n\n${HELP}`);
      return 64;
  }
}

async function runRoles(role: 'serve' | 'intake' | 'worker' | 'web', config: Config, log: Logger): Promise<number> {
  if (isIntakeProcess()) return runIntakeProcess(config, log);
  const intakeProcesses = role === 'serve' || role === 'intake' ? intakeProcessCount(config.INTAKE_PROCESSES) : 1;
  let embedded: EmbeddedRedis | null = null;
  if (role === 'serve' && config.REDIS_URL_DEFAULTED && !(await redisAnswers('127.0.0.1', 6379))) {
    embedded = await startEmbeddedRedis(config.DATA_DIR, log);
  }
  const stops: Stop[] = [];
  let services: OpenedServices | null = null;
  const cleanup = async () => {
    await services?.close();
    await embedded?.stop();
  };
  try {
    // An intake-only primary with intake processes only supervises them: no Redis, no directory.
    if (role !== 'intake' || intakeProcesses === 1) services = await openServices(config, log, { watchDirectory: true });
    if (services && (role === 'serve' || role === 'worker')) stops.push(await startWorkers(services));
    if (services && (role === 'serve' || role === 'web')) stops.push(await startWebRole(services, role === 'serve' ? 'serve' : 'web'));
    if (role === 'serve' || role === 'intake') {
      if (intakeProcesses > 1) stops.push((await startIntakeCluster(intakeProcesses, log)).stop);
      else if (services) stops.push((await startIntake(services)).stop);
    }
  } catch (err) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await cleanup();
    throw err;
  }
  log.info({ role, ...describeRoles(config) }, 'rebuild-desk is running');
  stopOnSignal(stops, log, cleanup);
  return new Promise<number>(() => undefined); // runs until a signal stops it
}

async function withServices(config: Config, log: Logger, run: (services: OpenedServices) => Promise<number>): Promise<number> {
  const services = await openServices(config, log);
  try {
    return await run(services);
  } finally {
    await services.close();
  }
}

/** Commands that need only Redis skip loading the account directory, which can be millions of rows. */
async function withQueue<T>(config: Config, run: (rebuilds: RebuildQueue, requests: RequestStore) => Promise<T>): Promise<T> {
  const redis = producerConnection(config.REDIS_URL);
  redis.on('error', () => undefined);
  try {
    await waitReady(redis, 5_000).catch(() => {
      throw new Error(`cannot reach Redis at ${config.REDIS_URL}`);
    });
    const rebuilds = new RebuildQueue(redis, config.QUEUE_PREFIX);
    try {
      return await run(rebuilds, new RequestStore(redis, config.QUEUE_PREFIX));
    } finally {
      await rebuilds.close();
    }
  } finally {
    redis.disconnect();
  }
}

async function backlog(args: string[], config: Config): Promise<number> {
  const [source] = args;
  if (!source) {
    process.stderr.write('usage: rebuild-desk backlog FILE|-\n');
    return 64;
  }
  const tty = process.stderr.isTTY;
  let lastShown = 0;
  const summary = await withQueue(config, (rebuilds) =>
    loadBacklog(source, rebuilds, (lines) => {
      if (tty) process.stderr.write(`\r${lines.toLocaleString('en')} lines read`);
      else if (lines - lastShown >= 100_000) {
        lastShown = lines;
        process.stderr.write(`${lines} lines read\n`);
      }
    }),
  );
  if (tty) process.stderr.write('\n');
  const rate = summary.seconds > 0 ? Math.round(summary.added / summary.seconds) : summary.added;
  process.stdout.write(
    `backlog: ${summary.added} added, ${summary.skipped} already queued or finished, ${summary.invalid} invalid, ` +
      `${summary.lines} lines in ${summary.seconds.toFixed(1)} s (${rate}/s)\n`,
  );
  for (const example of summary.invalidExamples) process.stdout.write(`  invalid ${example}\n`);
  return 0;
}

async function status(args: string[], config: Config): Promise<number> {
  const [account] = args;
  if (!account) {
    process.stderr.write('usage: rebuild-desk status ACCOUNT\n');
    return 64;
  }
  const report = await withQueue(config, (rebuilds, requests) => accountStatus(account, config.DEFAULT_DOMAIN, rebuilds, requests));
  process.stdout.write(`${JSON.stringify(report)}\n`);
  return 0;
}

async function ingest(args: string[], config: Config, log: Logger): Promise<number> {
  const usage = 'usage: rebuild-desk ingest FILE|- [--sender=ADDR] [--recipient=ADDR] [--client-address=IP] [--helo=NAME]\n';
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { sender: { type: 'string' }, recipient: { type: 'string' }, 'client-address': { type: 'string' }, helo: { type: 'string' } },
    });
  } catch (err) {
    // The values come from the remote client (its HELO, its sender): a bad one is unusable input.
    process.stderr.write(`rebuild-desk: ${(err as Error).message}\n${usage}`);
    return EX_DATAERR;
  }
  const { values, positionals } = parsed;
  const [source] = positionals;
  if (!source) {
    process.stderr.write(usage);
    return EX_DATAERR;
  }
  let raw: Buffer;
  try {
    raw = await readInput(source);
  } catch (err) {
    process.stderr.write(`rebuild-desk: cannot read ${source}: ${(err as Error).message}\n`);
    return EX_DATAERR;
  }
  let services: OpenedServices;
  try {
    services = await openServices(config, log);
  } catch (err) {
    process.stderr.write(`rebuild-desk: ${(err as Error).message}\n`);
    return EX_TEMPFAIL;
  }
  try {
    const result = await ingestRaw(raw, { source, sender: values.sender, recipient: values.recipient, clientAddress: values['client-address'], helo: values.helo }, services);
    (result.code === 0 ? process.stdout : process.stderr).write(`${result.message}\n`);
    return result.code;
  } finally {
    await services.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`rebuild-desk: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
