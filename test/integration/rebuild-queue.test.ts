import type { Redis } from 'ioredis';
import { producerConnection, waitReady } from '../../src/queue/connection';
import { PRIORITY, RebuildQueue } from '../../src/queue/rebuild-queue';
import { startRedis, testPrefix, type TestRedis } from '../helpers/redis-server';

let server: TestRedis;
let redis: Redis;
let queue: RebuildQueue;

beforeAll(async () => {
  server = await startRedis();
  redis = producerConnection(server.url);
  await waitReady(redis);
});

beforeEach(() => {
  queue = new RebuildQueue(redis, testPrefix('queue'));
});

afterEach(async () => {
  await queue.close();
});

afterAll(async () => {
  redis.disconnect();
  await server.destroy();
});

const accounts = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `user${from + i}@example.com`);

describe('the rebuild queue', () => {
  test('backlog accounts wait in arrival order, and loading them again adds nothing', async () => {
    expect(await queue.addBacklog(accounts(100))).toBe(100);
    expect(await queue.addBacklog(accounts(100))).toBe(0);
    expect(await queue.status('user0@example.com')).toEqual({ account: 'user0@example.com', state: 'queued', position: 1 });
    expect(await queue.status('user99@example.com')).toMatchObject({ state: 'queued', position: 100 });
    expect((await queue.counts()).queued).toBe(100);
  });

  test('an account nobody asked for is in state none', async () => {
    expect(await queue.status('nobody@example.com')).toEqual({ account: 'nobody@example.com', state: 'none', position: null });
  });

  test('a priority request goes in front of the whole backlog, in arrival order among priority requests', async () => {
    await queue.addBacklog(accounts(50));
    expect(await queue.prioritize('first@example.com')).toBe('added');
    expect(await queue.prioritize('second@example.com')).toBe('added');
    expect(await queue.status('first@example.com')).toMatchObject({ state: 'prioritized', position: 1 });
    expect(await queue.status('second@example.com')).toMatchObject({ state: 'prioritized', position: 2 });
    expect(await queue.status('user0@example.com')).toMatchObject({ state: 'queued', position: 3 });
  });

  test('a backlog account asked for is raised in place, once', async () => {
    await queue.addBacklog(accounts(10));
    expect(await queue.prioritize('user7@example.com')).toBe('added');
    expect(await queue.prioritize('user7@example.com')).toBe('already-prioritized');
    expect(await queue.status('user7@example.com')).toMatchObject({ state: 'prioritized', position: 1 });
    expect((await queue.counts()).queued).toBe(9);
    expect(await queue.queue.getJobCounts('prioritized')).toEqual({ prioritized: 1 });
  });

  test('the feeder moves only as much backlog into BullMQ as the workers need, at backlog priority', async () => {
    await queue.addBacklog(accounts(100));
    expect(await queue.feed(8)).toBe(8);
    expect(await queue.feed(8)).toBe(0);
    const job = await queue.getJob('user0@example.com');
    expect(job?.priority).toBe(PRIORITY.backlog);
    // Positions and counts read the same whether an account is fed or still in the sorted set.
    expect(await queue.status('user0@example.com')).toMatchObject({ state: 'queued', position: 1 });
    expect(await queue.status('user8@example.com')).toMatchObject({ state: 'queued', position: 9 });
    expect((await queue.counts()).queued).toBe(100);
  });

  test('a fed backlog job asked for is raised to priority in place', async () => {
    await queue.addBacklog(accounts(5));
    await queue.feed(5);
    expect(await queue.prioritize('user3@example.com')).toBe('raised');
    expect((await queue.getJob('user3@example.com'))?.priority).toBe(PRIORITY.request);
    expect(await queue.status('user3@example.com')).toMatchObject({ state: 'prioritized', position: 1 });
  });

  test('finished accounts keep their state and are not queued again by the backlog', async () => {
    await queue.setState('done1@example.com', 'done');
    await queue.setState('failed1@example.com', 'failed');
    expect(await queue.addBacklog(['done1@example.com', 'failed1@example.com', 'new@example.com'])).toBe(1);
    expect(await queue.status('done1@example.com')).toMatchObject({ state: 'done' });
    expect(await queue.prioritize('done1@example.com')).toBe('done');
    expect(await queue.counts()).toMatchObject({ done: 1, failed: 1 });
  });

  test('the estimate follows the measured rate of finished rebuilds', async () => {
    expect(await queue.estimateMinutes(10)).toBeUndefined();
    const now = Date.now();
    for (let i = 0; i < 30; i++) await queue.recordRebuildFinished(now);
    expect(await queue.ratePerMinute(now)).toBe(2);
    expect(await queue.estimateMinutes(10)).toBe(5);
  });
});
