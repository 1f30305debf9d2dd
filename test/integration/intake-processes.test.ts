import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config';
import { ACCOUNTS_FILE, waitUntil } from '../helpers/desk';
import { freePort, startRedis, testPrefix, type TestRedis } from '../helpers/redis-server';
import { message, sendRaw } from '../helpers/send-mail';

/** The built command line (`npm test` builds dist/ before the tests), run as an operator runs it. */
const CLI = resolve(__dirname, '../../dist/cli.js');

let redis: TestRedis;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis.destroy();
});

function childPids(pid: number): Promise<number[]> {
  return new Promise((done) => {
    const ps = spawn('ps', ['-o', 'pid=', '--ppid', String(pid)]);
    let out = '';
    ps.stdout.on('data', (d: Buffer) => (out += d.toString()));
    ps.on('close', () => done(out.split(/\s+/).filter(Boolean).map(Number)));
  });
}

describe('INTAKE_PROCESSES', () => {
  it('is 1 by default, a count, or auto; anything else stops start-up naming it', () => {
    expect(loadConfig({}).INTAKE_PROCESSES).toBe(1);
    expect(loadConfig({ INTAKE_PROCESSES: '3' }).INTAKE_PROCESSES).toBe(3);
    expect(loadConfig({ INTAKE_PROCESSES: 'auto' }).INTAKE_PROCESSES).toBe('auto');
    expect(() => loadConfig({ INTAKE_PROCESSES: '0' })).toThrow(/INTAKE_PROCESSES/);
    expect(() => loadConfig({ INTAKE_PROCESSES: 'many' })).toThrow(/INTAKE_PROCESSES/);
  });

  it('with 2, two intake processes share the port, every 250 is a stored request, and SIGTERM stops them all', async () => {
    const port = await freePort();
    const prefix = testPrefix('procs');
    const child: ChildProcess = spawn('node', [CLI, 'intake'], {
      env: {
        PATH: process.env.PATH ?? '',
        REDIS_URL: redis.url,
        QUEUE_PREFIX: prefix,
        ACCOUNTS_FILE,
        SMTP_PORT: String(port),
        INTAKE_PROCESSES: '2',
        LOG_LEVEL: 'silent',
        OUTBOX_DIR: mkdtempSync(join(tmpdir(), 'rebuild-desk-procs-')),
      },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    try {
      await waitUntil(async () => (await childPids(child.pid!)).length === 2, 20_000, 'two intake processes');
      const ids = await waitUntil(
        async () => {
          try {
            const results = await Promise.all(
              ['jdoe', 'alice', 'bob'].map((name) =>
                sendRaw(port, message({ from: `${name}@example.com`, subject: 'Priority rebuild', body: `account: ${name}@example.com` }), { from: `${name}@example.com`, to: ['webmaster@localhost'] }),
              ),
            );
            return results.map((r) => r.requestId);
          } catch {
            return undefined; // still starting
          }
        },
        20_000,
        'the intake to answer',
      );
      const client = new Redis(redis.url);
      try {
        for (const id of ids) expect(await client.hget(`${prefix}:req:${id}`, 'acted')).toBe('1');
        expect(await client.zcard(`${prefix}:rebuild:prioritized`)).toBe(3);
      } finally {
        client.disconnect();
      }
      const workers = await childPids(child.pid!);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
