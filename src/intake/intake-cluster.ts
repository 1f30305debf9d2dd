import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Config } from '../config';
import type { Logger } from '../log';
import { openServices } from '../open-services';
import { startIntake, stopOnSignal } from '../roles';

/**
 * The SMTP intake in several processes (INTAKE_PROCESSES). Parsing and the flow are CPU-bound and one
 * Node process uses one core, so a busy intake runs the listener in N cluster workers sharing the port;
 * workers and the staff web stay in the primary. Every process stores each request before its 250, as
 * one process does: nothing about durability changes, only how many messages are handled at once.
 *
 * Connection limits (SMTP_MAX_CONNECTIONS, SMTP_MAX_CONNECTIONS_PER_IP) are counted per process.
 */

const STOP_MESSAGE = 'rebuild-desk:stop';

/** How long a restarted intake process waits, so one that cannot start does not spin. */
const RESTART_DELAY_MS = 1_000;

/** How long the primary waits for its intake processes to finish their sessions before killing them. */
const STOP_TIMEOUT_MS = 15_000;

export function intakeProcessCount(setting: Config['INTAKE_PROCESSES']): number {
  return setting === 'auto' ? availableParallelism() : setting;
}

/** True in a process forked by startIntakeCluster: it runs the intake and nothing else. */
export function isIntakeProcess(): boolean {
  return cluster.isWorker;
}

/**
 * Primary side: forks `count` intake processes and resolves once every one is listening; a process
 * that dies later is replaced. Rejects when one exits before it listens (bad settings, no Redis).
 */
export async function startIntakeCluster(count: number, log: Logger): Promise<{ stop: () => Promise<void> }> {
  // SCHED_NONE: each process accepts its own connections from the shared socket. The default
  // round-robin has the primary accept every connection and pass it over IPC, which on a busy intake
  // costs more than the imbalance it avoids (measured in bench/RESULTS.md).
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let stopping = false;

  const fork = (): Worker => cluster.fork();
  const started = Array.from({ length: count }, fork);
  await Promise.all(
    started.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          worker.once('listening', () => resolve());
          worker.once('exit', (code, signal) => reject(new Error(`an intake process exited while starting (${signal ?? `code ${code}`}); its log says why`)));
        }),
    ),
  ).catch(async (err: unknown) => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
    throw err;
  });
  log.info({ processes: count }, 'intake running in several processes');

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    log.error({ pid: worker.process.pid, code, signal }, 'an intake process exited; starting another');
    setTimeout(() => {
      if (!stopping) fork();
    }, RESTART_DELAY_MS).unref();
  });

  return {
    stop: async () => {
      stopping = true;
      const running = Object.values(cluster.workers ?? {}).filter((w): w is Worker => Boolean(w) && !w!.isDead());
      await Promise.all(
        running.map(
          (worker) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(() => worker.process.kill('SIGKILL'), STOP_TIMEOUT_MS);
              worker.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              if (worker.isConnected()) worker.send(STOP_MESSAGE);
              else worker.process.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

/**
 * Worker side: one intake process, with its own Redis connection and account directory. It stops when
 * the primary asks, when the primary is gone, or on a signal of its own.
 */
export async function runIntakeProcess(config: Config, log: Logger): Promise<number> {
  const services = await openServices(config, log, { watchDirectory: true });
  const intake = await startIntake(services).catch(async (err: unknown) => {
    await services.close();
    throw err;
  });
  const stop = stopOnSignal([intake.stop], log, () => services.close());
  process.on('message', (message) => {
    if (message === STOP_MESSAGE) stop('asked by the primary');
  });
  process.on('disconnect', () => stop('the primary is gone'));
  return new Promise<number>(() => undefined); // runs until stopped
}
