import { PassThrough } from 'node:stream';
import { runReviewCommand, type ReviewListItem } from '../../src/cli/review-command';
import { startRedis, type TestRedis } from '../helpers/redis-server';
import { createReviewItem, reviewDesk, type ReviewDesk } from '../helpers/review-desk';

let server: TestRedis;
let desk: ReviewDesk;

beforeAll(async () => {
  server = await startRedis();
});

beforeEach(async () => {
  desk = await reviewDesk(server.url);
});

afterEach(async () => {
  await desk.close();
});

afterAll(async () => {
  await server.destroy();
});

/** Runs `rebuild-desk review …` and returns its exit code and what it wrote. */
async function review(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  out.on('data', (c: Buffer) => chunks.out.push(c));
  err.on('data', (c: Buffer) => chunks.err.push(c));
  const code = await runReviewCommand(args, desk.services, out, err);
  return { code, out: Buffer.concat(chunks.out).toString(), err: Buffer.concat(chunks.err).toString() };
}

describe('review list', () => {
  test('--json prints every open item, newest first, with id, reason, claimed account, sender and ISO time', async () => {
    const older = await createReviewItem(desk.services, { reason: 'not-entitled', account: 'alice@example.com', from: 'helper@elsewhere.test', received: Date.UTC(2026, 10, 2, 9, 30) });
    const newer = await createReviewItem(desk.services, { reason: 'no-account', account: null, from: 'someone@elsewhere.test', received: Date.UTC(2026, 10, 2, 10, 0) });
    const { code, out } = await review('list', '--json');
    expect(code).toBe(0);
    const items = JSON.parse(out) as ReviewListItem[];
    expect(items.map((i) => i.id)).toEqual([newer, older]);
    expect(items[0]).toMatchObject({ id: newer, reason: 'no-account', account: null, sender: 'someone@elsewhere.test', received: '2026-11-02T10:00:00.000Z' });
    expect(items[1]).toMatchObject({ id: older, reason: 'not-entitled', account: 'alice@example.com', sender: 'helper@elsewhere.test', received: '2026-11-02T09:30:00.000Z' });
  });

  test('--reason keeps one reason, and decided items show only with --all', async () => {
    const forged = await createReviewItem(desk.services, { reason: 'forged', account: 'bob@example.com', from: 'bob@example.com', received: Date.now() - 60_000 });
    const other = await createReviewItem(desk.services, { reason: 'ambiguous', account: null, from: 'x@elsewhere.test' });
    expect((JSON.parse((await review('list', '--json', '--reason', 'forged')).out) as ReviewListItem[]).map((i) => i.id)).toEqual([forged]);
    await review('reject', other);
    expect((JSON.parse((await review('list', '--json')).out) as ReviewListItem[]).map((i) => i.id)).toEqual([forged]);
    const all = JSON.parse((await review('list', '--json', '--all')).out) as ReviewListItem[];
    expect(all.map((i) => [i.id, i.status])).toEqual([
      [other, 'rejected'],
      [forged, 'open'],
    ]);
    expect((await review('list', '--reason', 'bogus')).code).toBe(64);
  });

  test('the plain list is an aligned table, and text from an email cannot drive the terminal', async () => {
    await createReviewItem(desk.services, { reason: 'not-entitled', account: 'alice@example.com', from: 'a@elsewhere.test', subject: 'Priority rebuild \u001b[2J\u001b]0;pwned\u0007' });
    await createReviewItem(desk.services, { reason: 'unknown-account', account: 'longer.name@example.com', from: 'someone.else@elsewhere.test' });
    const { code, out } = await review('list');
    expect(code).toBe(0);
    expect(out).not.toContain('\u001b');
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+RECEIVED\s+REASON\s+ACCOUNT\s+SENDER\s+SUBJECT$/);
    const column = (line: string) => line.indexOf(line.split(/\s{2,}/)[4]);
    expect(new Set(lines.map(column)).size).toBe(1); // SENDER starts at the same place on every line
  });

  test('an empty list says so', async () => {
    expect((await review('list')).out).toBe('No open review items.\n');
  });
});

describe('review actions', () => {
  test('approve queues the account at priority, queues a confirmation and records who did it', async () => {
    const id = await createReviewItem(desk.services, { reason: 'not-entitled', account: 'alice@example.com', from: 'helper@elsewhere.test' });
    const { code, out } = await review('approve', id, '--by', 'ops:maria');
    expect(code).toBe(0);
    expect(out).toContain(`${id} approved: alice@example.com added, position 1; confirmation notice queued`);
    expect(await desk.services.rebuilds.status('alice@example.com')).toMatchObject({ state: 'prioritized', position: 1 });
    expect((await desk.services.notices.queue.getJob(`${id}-confirmation`))?.data).toMatchObject({ to: 'helper@elsewhere.test', account: 'alice@example.com', position: 1 });
    expect((await desk.services.requests.history(id)).find((h) => h.action === 'approved')?.by).toBe('ops:maria');
  });

  test('approving twice is refused with exit code 1 and the first decision stands', async () => {
    const id = await createReviewItem(desk.services, { reason: 'not-entitled', account: 'alice@example.com', from: 'helper@elsewhere.test' });
    expect((await review('approve', id)).code).toBe(0);
    const again = await review('reject', id, '--message', 'too late');
    expect(again.code).toBe(1);
    expect(again.err).toContain('the first decision stands');
    expect((await desk.services.requests.get(id))?.review).toBe('approved');
    expect(await desk.services.notices.queue.getJob(`${id}-rejected`)).toBeUndefined();
  });

  test('reject --message queues a rejected notice with that message; the default actor is the operator', async () => {
    const id = await createReviewItem(desk.services, { reason: 'unknown-account', account: 'zed@example.com', from: 'zed@elsewhere.test' });
    const { code } = await review('reject', id, '--message', 'Please write from the address on file.');
    expect(code).toBe(0);
    expect((await desk.services.notices.queue.getJob(`${id}-rejected`))?.data).toMatchObject({ kind: 'rejected', to: 'zed@elsewhere.test', staffMessage: 'Please write from the address on file.' });
    expect((await desk.services.requests.history(id)).at(-1)).toMatchObject({ action: 'rejected', by: expect.stringMatching(/^cli:.+/) });
  });

  test('approving a forged request queues the account but writes nothing to the forged address', async () => {
    const id = await createReviewItem(desk.services, { reason: 'forged', account: 'bob@example.com', from: 'bob@example.com' });
    const { code, out } = await review('approve', id);
    expect(code).toBe(0);
    expect(out).toContain('no reply sent');
    expect(await desk.services.rebuilds.status('bob@example.com')).toMatchObject({ state: 'prioritized' });
    expect(await desk.services.notices.queue.getJob(`${id}-confirmation`)).toBeUndefined();
  });

  test('a message that is not a request cannot be approved, but can be reassigned to an account', async () => {
    const id = await createReviewItem(desk.services, { reason: 'not-a-request', account: null, from: 'billing.question@elsewhere.test', subject: 'Invoice 2291' });
    const refused = await review('approve', id);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('not a rebuild request');
    const { code } = await review('reassign', id, 'dan@example.com');
    expect(code).toBe(0);
    expect(await desk.services.rebuilds.status('dan@example.com')).toMatchObject({ state: 'prioritized' });
    // Its sender was never authenticated: the bot does not write to it, staff do if they wish.
    expect(await desk.services.notices.queue.getJob(`${id}-confirmation`)).toBeUndefined();
    expect((await desk.services.requests.history(id)).find((h) => h.action === 'reassigned')?.detail).toBe('(none) → dan@example.com');
  });

  test('reassigning to an account that is not in the directory is refused and leaves the item open', async () => {
    const id = await createReviewItem(desk.services, { reason: 'ambiguous', account: null, from: 'x@elsewhere.test' });
    const { code, err } = await review('reassign', id, 'ghost@example.com');
    expect(code).toBe(1);
    expect(err).toContain('not in the account directory');
    expect((await review('reassign', id, 'not an account')).code).toBe(1);
    expect((await desk.services.requests.get(id))?.review).toBe('open');
    expect(await desk.services.requests.history(id)).toHaveLength(1);
  });

  test('wrong usage prints the usage and exits 64', async () => {
    for (const args of [[], ['approve'], ['frobnicate'], ['list', '--nope'], ['reassign', 'R-AAAAAA']]) {
      const { code, err } = await review(...args);
      expect({ args, code }).toEqual({ args, code: 64 });
      expect(err).toContain('usage:');
    }
  });
});
