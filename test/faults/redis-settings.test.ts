import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { openServices } from '../../src/open-services';
import { ACCOUNTS_FILE } from '../helpers/desk';
import { startRedis, testPrefix, type TestRedis } from '../helpers/redis-server';

/**
 * "250 means safe" needs a Redis that keeps what it is given: `appendonly yes` (a restart loses
 * nothing accepted) and `maxmemory-policy noeviction` (memory pressure never drops a request). The
 * bot says so at start-up when Redis is set up otherwise.
 */

let redis: TestRedis;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.destroy();
});

async function startUpWarnings(): Promise<Array<{ msg: string; [key: string]: unknown }>> {
  const lines: string[] = [];
  const log = createLogger('warn', { write: (line: string) => lines.push(line) });
  const services = await openServices(loadConfig({ REDIS_URL: redis.url, QUEUE_PREFIX: testPrefix('settings'), ACCOUNTS_FILE }), log);
  await services.close();
  return lines.map((l) => JSON.parse(l) as { msg: string });
}

async function configSet(name: string, value: string): Promise<void> {
  const admin = new Redis(redis.url);
  try {
    await admin.config('SET', name, value);
  } finally {
    admin.disconnect();
  }
}

test('with appendonly yes and noeviction (the test Redis, as in production) there is no warning', async () => {
  expect(await startUpWarnings()).toEqual([]);
});

test('with appendonly off the bot warns at start-up that accepted requests may be lost', async () => {
  await configSet('appendonly', 'no');
  try {
    const warnings = await startUpWarnings();
    expect(warnings).toEqual([expect.objectContaining({ level: 40, appendonly: 'no', msg: expect.stringContaining('appendonly') })]);
  } finally {
    await configSet('appendonly', 'yes');
  }
});

test('with an evicting maxmemory-policy the bot warns at start-up', async () => {
  await configSet('maxmemory-policy', 'allkeys-lru');
  try {
    const warnings = await startUpWarnings();
    expect(warnings).toEqual([expect.objectContaining({ level: 40, policy: 'allkeys-lru', msg: expect.stringContaining('noeviction') })]);
  } finally {
    await configSet('maxmemory-policy', 'noeviction');
  }
});
