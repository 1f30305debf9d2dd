import { RebuildQueue } from '../../src/queue/rebuild-queue';
import { producerConnection, waitReady } from '../../src/queue/connection';
import { startRedis, type TestRedis } from '../helpers/redis-server';
import { ACCOUNTS, audit, botEnv, deliver, killAllBots, makeLoad, sleep, startBot, summary } from './fault-kit';

/**
 * Redis is where "250 means safe" lives (SPEC §5). While it is away the listener must answer 451 so
 * senders keep their messages and retry; when it is back (restarted with its append-only file) every
 * request accepted before is still there and is carried out.
 */

let redis: TestRedis;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await killAllBots();
  await redis?.destroy();
});

async function waitAllDone(redisUrl: string, prefix: string, accounts: string[], timeoutMs: number): Promise<string[]> {
  const connection = producerConnection(redisUrl);
  await waitReady(connection);
  const rebuilds = new RebuildQueue(connection, prefix);
  try {
    const deadline = Date.now() + timeoutMs;
    let states: string[] = [];
    do {
      states = await Promise.all(accounts.map(async (a) => (await rebuilds.status(a)).state));
      if (states.every((s) => s === 'done')) break;
      await sleep(250);
    } while (Date.now() < deadline);
    return states;
  } finally {
    await rebuilds.close();
    connection.disconnect();
  }
}

test('Redis stopped for 10 s under load: 451 during the gap, zero lost afterwards', async () => {
  const env = await botEnv(redis.url);
  const messages = makeLoad(1_500, `gap-${Date.now()}`);
  const serve = await startBot('serve', env);

  let outage: Promise<void> | null = null;
  let acceptedAtStop = 0;
  const stats = await deliver(Number(env.SMTP_PORT), messages, {
    concurrency: 8,
    retryDelayMs: 250,
    deadlineMs: 120_000,
    onAccepted: (s) => {
      if (outage || s.accepted.size < 300) return;
      outage = (async () => {
        acceptedAtStop = s.accepted.size;
        await redis.stop();
        await sleep(10_000);
        await redis.start();
      })();
    },
  });
  await outage;

  const result = await audit(redis.url, env.QUEUE_PREFIX, messages, stats.accepted);
  console.log(
    summary('redis-outage', {
      sent: stats.sent,
      accepted: stats.accepted.size,
      acceptedBeforeStop: acceptedAtStop,
      replies451: stats.replies451,
      slowest451Ms: stats.slowest451Ms,
      otherTempFailures: stats.tempFailures - stats.replies451,
      connectionErrors: stats.connectionErrors,
      stored: result.stored,
      lost: result.lost.length,
      duplicated: result.duplicated.length,
      unacted: result.unacted.length,
    }),
  );
  expect(stats.replies451).toBeGreaterThan(0);
  expect(stats.slowest451Ms).toBeLessThan(8_000);
  expect(stats.rejected.size).toBe(0);
  expect(stats.accepted.size).toBe(messages.length);
  expect(result.lost).toEqual([]);
  expect(result.duplicated).toEqual([]);
  expect(result.mismatched).toEqual([]);
  expect(result.unacted).toEqual([]);
  expect(serve.alive()).toBe(true);
  expect(await waitAllDone(redis.url, env.QUEUE_PREFIX, ACCOUNTS, 30_000)).toEqual(ACCOUNTS.map(() => 'done'));
}, 180_000);

test('Redis restarted (SIGTERM, then started from its AOF) after requests were accepted: all still there, all rebuilt', async () => {
  const env = await botEnv(redis.url, { OUTBOUND_SMTP_URL: '' });
  const messages = makeLoad(200, `restart-${Date.now()}`);
  const intake = await startBot('intake', env);
  const stats = await deliver(Number(env.SMTP_PORT), messages, { concurrency: 8 });
  expect(stats.accepted.size).toBe(messages.length);

  await redis.stop();
  await redis.start();

  const result = await audit(redis.url, env.QUEUE_PREFIX, messages, stats.accepted);
  // Only now do the rebuilds run: in a worker process started after the restart.
  const worker = await startBot('worker', env);
  const states = await waitAllDone(redis.url, env.QUEUE_PREFIX, ACCOUNTS, 30_000);
  console.log(
    summary('redis-restart', {
      sent: stats.sent,
      accepted: stats.accepted.size,
      storedAfterRestart: result.stored,
      lost: result.lost.length,
      duplicated: result.duplicated.length,
      rebuiltAfterRestart: states.filter((s) => s === 'done').length,
      accounts: ACCOUNTS.length,
    }),
  );
  expect(result.stored).toBe(messages.length);
  expect(result.lost).toEqual([]);
  expect(result.duplicated).toEqual([]);
  expect(result.mismatched).toEqual([]);
  expect(states).toEqual(ACCOUNTS.map(() => 'done'));
  expect(intake.alive()).toBe(true);
  expect(worker.alive()).toBe(true);
}, 120_000);
