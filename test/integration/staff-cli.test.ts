import { PassThrough, Readable } from 'node:stream';
import { runStaffCommand } from '../../src/cli/staff-command';
import { StaffStore } from '../../src/web/staff-store';
import { startRedis, type TestRedis } from '../helpers/redis-server';
import { reviewDesk, type ReviewDesk } from '../helpers/review-desk';

let server: TestRedis;
let desk: ReviewDesk;

beforeAll(async () => {
  server = await startRedis();
  desk = await reviewDesk(server.url);
});

afterAll(async () => {
  await desk.close();
  await server.destroy();
});

const store = () => new StaffStore(desk.redis, desk.config.QUEUE_PREFIX);

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return () => Buffer.concat(chunks).toString();
}

/** A terminal stand-in: raw mode is recorded, keystrokes are written by the test. */
class FakeTerminal extends PassThrough {
  isRaw = false;
  setRawMode(raw: boolean): this {
    this.isRaw = raw;
    return this;
  }
}

describe('staff add', () => {
  test('reads the password as one line from a pipe and creates a login that verifies', async () => {
    const stdout = new PassThrough();
    const output = collect(stdout);
    const code = await runStaffCommand(['add', 'Maria'], desk.services, { stdin: Readable.from(['a long enough password\n', 'ignored\n']), stdout, isTTY: false });
    expect(code).toBe(0);
    expect(output()).toBe('staff login maria created\n');
    expect(await store().verify('maria', 'a long enough password')).toBe(true);
    expect(await store().verify('maria', 'ignored')).toBe(false);
  });

  test('running it again resets the password', async () => {
    const io = (password: string) => ({ stdin: Readable.from([`${password}\n`]), stdout: new PassThrough(), isTTY: false });
    await runStaffCommand(['add', 'tom'], desk.services, io('first password of tom'));
    const stdout = new PassThrough();
    const output = collect(stdout);
    expect(await runStaffCommand(['add', 'tom'], desk.services, { ...io('second password of tom'), stdout })).toBe(0);
    expect(output()).toContain('reset');
    expect(await store().verify('tom', 'first password of tom')).toBe(false);
    expect(await store().verify('tom', 'second password of tom')).toBe(true);
  });

  test('a password shorter than 12 characters is refused and nothing is stored', async () => {
    const stdout = new PassThrough();
    const output = collect(stdout);
    expect(await runStaffCommand(['add', 'shorty'], desk.services, { stdin: Readable.from(['short\n']), stdout, isTTY: false })).toBe(65);
    expect(output()).toContain('at least 12 characters');
    expect(await store().exists('shorty')).toBe(false);
  });

  test('on a terminal it asks twice without echoing, and refuses when the two differ', async () => {
    const stdin = new FakeTerminal();
    const stdout = new PassThrough();
    const output = collect(stdout);
    const done = runStaffCommand(['add', 'kim'], desk.services, { stdin, stdout, isTTY: true });
    stdin.write('kims secret phrase\r');
    await new Promise((r) => setTimeout(r, 20));
    stdin.write('kims secret phrasf\r');
    expect(await done).toBe(65);
    expect(output()).toContain('Password for kim');
    expect(output()).not.toContain('secret');
    expect(stdin.isRaw).toBe(false);
    expect(await store().exists('kim')).toBe(false);

    const again = runStaffCommand(['add', 'kim'], desk.services, { stdin, stdout, isTTY: true });
    stdin.write('kims secret phrasX\u007fe\r');
    await new Promise((r) => setTimeout(r, 20));
    stdin.write('kims secret phrase\r');
    expect(await again).toBe(0);
    expect(await store().verify('kim', 'kims secret phrase')).toBe(true);
  });

  test('an invalid name or a missing one is a usage error', async () => {
    const io = { stdin: Readable.from([]), stdout: new PassThrough(), isTTY: false };
    expect(await runStaffCommand(['add'], desk.services, io)).toBe(64);
    expect(await runStaffCommand(['add', 'no spaces allowed'], desk.services, io)).toBe(64);
    expect(await runStaffCommand(['remove', 'x'], desk.services, io)).toBe(64);
  });
});
