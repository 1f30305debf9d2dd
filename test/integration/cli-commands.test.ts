import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, startRedis, testPrefix, type TestRedis } from '../helpers/redis-server';
import { message } from '../helpers/send-mail';
import { ACCOUNTS_FILE } from '../helpers/desk';

/** The built command line (`npm test` builds dist/ before the tests), run as an operator runs it. */
const CLI = resolve(__dirname, '../../dist/cli.js');

let redis: TestRedis;
let env: Record<string, string>;
const dir = mkdtempSync(join(tmpdir(), 'rebuild-desk-cli-'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], extraEnv: Record<string, string> = {}, input?: string): Promise<Run> {
  return new Promise((done) => {
    const child = execFile('node', [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env, ...extraEnv }, timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? Number((err as NodeJS.ErrnoException & { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

beforeAll(async () => {
  redis = await startRedis();
});

beforeEach(() => {
  env = { REDIS_URL: redis.url, QUEUE_PREFIX: testPrefix('cli'), ACCOUNTS_FILE, LOG_LEVEL: 'silent', OUTBOX_DIR: join(dir, 'outbox') };
});

afterAll(async () => {
  await redis.destroy();
});

describe('the command line', () => {
  test('--help names every command', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    for (const command of ['serve', 'intake', 'worker', 'web', 'backlog', 'status', 'ingest', 'review list', 'review approve', 'review reject', 'staff add']) {
      expect(stdout).toContain(command);
    }
  });

  test('a wrong setting stops start-up with a message naming it', async () => {
    const { code, stderr } = await run(['status', 'jdoe'], { SMTP_PORT: 'many', WORKER_CONCURRENCY: '-1' });
    expect(code).toBe(78);
    expect(stderr).toContain('SMTP_PORT');
    expect(stderr).toContain('WORKER_CONCURRENCY');
  });

  test('backlog loads every account of a file once, skips bad lines, and can be run again', async () => {
    const file = join(dir, 'backlog.txt');
    const lines = ['account', ...Array.from({ length: 12_000 }, (_, i) => `user${i}@example.com`), 'not an account', '-rf@example.com', 'user5@example.com'];
    writeFileSync(file, `${lines.join('\n')}\n`);
    const first = await run(['backlog', file]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/12000 added, 1 already queued or finished, 2 invalid/);
    const again = await run(['backlog', file]);
    expect(again.stdout).toMatch(/0 added, 12001 already queued or finished/);

    const status = await run(['status', 'user100@example.com']);
    expect(JSON.parse(status.stdout)).toEqual({ account: 'user100@example.com', state: 'queued', position: 101, estimateMinutes: null, requests: [] });
  });

  test('backlog reads the accounts CSV and standard input', async () => {
    const { code, stdout } = await run(['backlog', '-'], {}, 'account,addresses\nalice@example.com,alice.backup@gmail.net\nbob@example.com,\n');
    expect(code).toBe(0);
    expect(stdout).toMatch(/2 added/);
  });

  test('status of a bare name uses the default domain and lists its requests', async () => {
    const raw = message({ from: 'jdoe@example.com', subject: 'Priority rebuild', body: 'Account: jdoe' });
    const ingested = await run(['ingest', '-', '--sender', 'jdoe@example.com'], {}, raw);
    expect(ingested.code).toBe(0);
    const id = /R-[0-9A-Z]{6}/.exec(ingested.stdout)?.[0];
    const { stdout } = await run(['status', 'jdoe']);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ account: 'jdoe@example.com', state: 'prioritized', position: 1 });
    expect(report.requests.map((r: { id: string }) => r.id)).toEqual([id]);
  });

  test('ingest exits 0 for an accepted message, and the same message again is the same request', async () => {
    const file = join(dir, 'request.eml');
    writeFileSync(file, message({ from: 'alice@example.com', subject: 'Priority rebuild', body: 'username: alice', messageId: 'ingest-once@example.com' }));
    const first = await run(['ingest', file, '--sender', 'alice@example.com']);
    const second = await run(['ingest', file, '--sender', 'alice@example.com']);
    expect([first.code, second.code]).toEqual([0, 0]);
    expect(second.stdout).toContain(/R-[0-9A-Z]{6}/.exec(first.stdout)![0]);
    expect(second.stdout).toContain('already received');
  });

  test('ingest exits 65 for unusable input: empty, missing or over the size limit', async () => {
    expect((await run(['ingest', '-'], {}, '')).code).toBe(65);
    expect((await run(['ingest', join(dir, 'missing.eml')])).code).toBe(65);
    const big = message({ from: 'jdoe@example.com', subject: 'Priority rebuild', body: 'x'.repeat(5_000) });
    expect((await run(['ingest', '-'], { SMTP_MAX_SIZE: '1000' }, big)).code).toBe(65);
  });

  test('ingest reads the null sender as the MTA spells it, and never answers it', async () => {
    const raw = message({ from: 'jdoe@example.com', subject: 'Priority rebuild', body: 'Account: jdoe' });
    const result = await run(['ingest', '-', '--sender=MAILER-DAEMON', '--helo=-odd-helo'], {}, raw);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('(ignore)');
  });

  test('ingest exits 65 for arguments it cannot read', async () => {
    const result = await run(['ingest', '-', '--helo', '-x'], {}, message({ from: 'jdoe@example.com', subject: 'Priority rebuild', body: 'x' }));
    expect(result.code).toBe(65);
  });

  test('ingest exits 75 when the request cannot be stored, so the MTA retries', async () => {
    const closed = await freePort();
    const result = await run(['ingest', '-'], { REDIS_URL: `redis://127.0.0.1:${closed}` }, message({ from: 'jdoe@example.com', subject: 'Priority rebuild', body: 'Account: jdoe' }));
    expect(result.code).toBe(75);
    expect(result.stderr).toContain('Redis');
  });

  test('ingest exits 75, not a bounce, while a setting is wrong', async () => {
    const result = await run(['ingest', '-'], { AUTH_MODE: 'sometimes' }, message({ from: 'jdoe@example.com', subject: 'Priority rebuild', body: 'x' }));
    expect(result.code).toBe(75);
    expect(result.stderr).toContain('AUTH_MODE');
  });
});
