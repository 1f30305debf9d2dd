import { RebuildQueue } from '../../src/queue/rebuild-queue';
import { producerConnection, waitReady } from '../../src/queue/connection';
import { startRedis, type TestRedis } from '../helpers/redis-server';
import { ACCOUNTS, audit, botEnv, deliver, killAllBots, makeLoad, sleep, startBot, summary, type BotProcess } from './fault-kit';

/**
 * SPEC §5 "250 means safe": the serving process is killed with SIGKILL in the middle of a load and
 * started again. Every message answered 250 has exactly one request; every other one is retried by
 * its sender and then handled; nothing is lost and nothing is stored twice.
 */

const MESSAGES = 2_000;
const CLIENTS = 8;

let redis: TestRedis;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await killAllBots();
  await redis?.destroy();
});

test('serve killed with SIGKILL under load: zero lost, zero duplicated, every request handled', async () => {
  const env = await botEnv(redis.url);
  const messages = makeLoad(MESSAGES, `kill-${Date.now()}`);
  let serve: BotProcess = await startBot('serve', env);

  let acceptedAtKill = -1;
  let killed: Promise<void> | null = null;
  const started = Date.now();
  const load = deliver(Number(env.SMTP_PORT), messages, {
    concurrency: CLIENTS,
    deadlineMs: 150_000,
    onAccepted: (stats) => {
      if (killed || stats.accepted.size < MESSAGES * 0.3) return;
      acceptedAtKill = stats.accepted.size;
      killed = (async () => {
        await serve.kill('SIGKILL');
        await sleep(500);
        serve = await startBot('serve', env);
      })();
    },
  });
  const stats = await load;
  await killed;
  const seconds = (Date.now() - started) / 1000;

  const result = await audit(redis.url, env.QUEUE_PREFIX, messages, stats.accepted);
  console.log(
    summary('kill-serve', {
      sent: stats.sent,
      accepted: stats.accepted.size,
      acceptedBeforeKill: acceptedAtKill,
      retriedAfterTempFailure: stats.tempFailures,
      retriedAfterConnectionError: stats.connectionErrors,
      stored: result.stored,
      lost: result.lost.length,
      duplicated: result.duplicated.length,
      mismatched: result.mismatched.length,
      unacted: result.unacted.length,
      seconds: seconds.toFixed(1),
    }),
  );

  expect(acceptedAtKill).toBeGreaterThan(0);
  expect(stats.connectionErrors).toBeGreaterThan(0); // the kill was felt by the senders
  expect(stats.rejected.size).toBe(0);
  expect(stats.accepted.size).toBe(MESSAGES);
  expect(result.lost).toEqual([]);
  expect(result.duplicated).toEqual([]);
  expect(result.mismatched).toEqual([]);
  expect(result.stored).toBe(MESSAGES);
  expect(result.unacted).toEqual([]);

  // And the restarted process rebuilds every account that was asked for.
  const connection = producerConnection(redis.url);
  await waitReady(connection);
  const rebuilds = new RebuildQueue(connection, env.QUEUE_PREFIX);
  try {
    const deadline = Date.now() + 30_000;
    let states: string[] = [];
    do {
      states = await Promise.all(ACCOUNTS.map(async (a) => (await rebuilds.status(a)).state));
      if (states.every((s) => s === 'done')) break;
      await sleep(250);
    } while (Date.now() < deadline);
    expect(states).toEqual(ACCOUNTS.map(() => 'done'));
  } finally {
    await rebuilds.close();
    connection.disconnect();
  }
  expect(serve.alive()).toBe(true);
}, 240_000);
