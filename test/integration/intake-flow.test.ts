import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis, type TestRedis } from '../helpers/redis-server';
import { message, sendRaw } from '../helpers/send-mail';
import { RECORDER, recorded, startDesk, waitUntil, type Desk } from '../helpers/desk';

let redis: TestRedis;
let desk: Desk | null = null;

beforeAll(async () => {
  redis = await startRedis();
});

afterEach(async () => {
  await desk?.stop();
  desk = null;
});

afterAll(async () => {
  await redis.destroy();
});

const to = ['webmaster@localhost'];

function recorderEnv(file: string, seconds = 0) {
  return { REBUILD_COMMAND: JSON.stringify(['sh', RECORDER, '{account}', file, String(seconds)]), WORKER_CONCURRENCY: '1' };
}

const recordFile = () => join(mkdtempSync(join(tmpdir(), 'rebuild-desk-record-')), 'rebuilds.log');

describe('a priority rebuild request over SMTP', () => {
  test('is accepted with a request id and rebuilds the right account ahead of a loaded backlog', async () => {
    const file = recordFile();
    desk = await startDesk(redis.url, recorderEnv(file), { workers: false });
    const backlog = Array.from({ length: 1_000 }, (_, i) => `waiting${i}@example.com`);
    await desk.services.rebuilds.addBacklog(backlog);

    const reply = await sendRaw(desk.smtpPort, message({ from: 'John Doe <jdoe@example.com>', subject: 'Priority rebuild', body: 'Account: jdoe@example.com\n\nThanks' }), { from: 'jdoe@example.com', to });
    expect(reply.response).toMatch(/^250 2\.0\.0 Accepted as R-[0-9A-Z]{6}$/);
    expect(await desk.services.rebuilds.status('jdoe@example.com')).toMatchObject({ state: 'prioritized', position: 1 });

    await desk.startWorkers();
    await waitUntil(async () => (await desk!.services.rebuilds.status('jdoe@example.com')).state === 'done', 10_000, 'jdoe rebuilt');
    expect(recorded(file).slice(0, 2)).toEqual(['start jdoe@example.com', 'end jdoe@example.com']);

    const request = await desk.services.requests.get(reply.requestId!);
    expect(request).toMatchObject({ account: 'jdoe@example.com', from: 'jdoe@example.com', classification: 'request', acted: true, decision: { kind: 'prioritize' } });
    expect((await desk.services.requests.getRaw(reply.requestId!))?.toString()).toContain('Account: jdoe@example.com');
  });

  test('delivered twice with the same Message-ID is one request and one rebuild', async () => {
    const file = recordFile();
    desk = await startDesk(redis.url, recorderEnv(file));
    const raw = message({ from: 'alice@example.com', subject: 'Re: Priority rebuild', body: 'my username is alice', messageId: 'twice@example.com' });
    const first = await sendRaw(desk.smtpPort, raw, { from: 'alice@example.com', to });
    const second = await sendRaw(desk.smtpPort, raw, { from: 'alice@example.com', to });
    expect(second.requestId).toBe(first.requestId);
    await waitUntil(async () => (await desk!.services.rebuilds.status('alice@example.com')).state === 'done', 10_000, 'alice rebuilt');
    expect(recorded(file).filter((line) => line.startsWith('start'))).toEqual(['start alice@example.com']);
    expect(await desk.services.requests.countRequests()).toBe(1);
  });

  test('from a sender who may not ask for the account goes to review and rebuilds nothing', async () => {
    const file = recordFile();
    desk = await startDesk(redis.url, recorderEnv(file));
    const reply = await sendRaw(desk.smtpPort, message({ from: 'stranger@evil.example', subject: 'Priority rebuild', body: 'Account: bob@example.com' }), { from: 'stranger@evil.example', to });
    const { items } = await desk.services.requests.listReview();
    expect(items.map((i) => [i.id, i.reason, i.account])).toEqual([[reply.requestId, 'not-entitled', 'bob@example.com']]);
    expect(await desk.services.rebuilds.status('bob@example.com')).toMatchObject({ state: 'none' });
    await new Promise((r) => setTimeout(r, 300));
    expect(recorded(file)).toEqual([]);
  });

  test('from strangers claiming an account does not use up its owner\'s rate limit', async () => {
    desk = await startDesk(redis.url, { RATE_LIMIT_PER_ACCOUNT: '2' }, { workers: false });
    for (let i = 0; i < 4; i++) {
      await sendRaw(desk.smtpPort, message({ from: `stranger${i}@evil.example`, subject: 'Priority rebuild', body: 'Account: carol@example.com' }), { from: `stranger${i}@evil.example`, to });
    }
    const owner = await sendRaw(desk.smtpPort, message({ from: 'carol@example.com', subject: 'Priority rebuild', body: 'Account: carol@example.com' }), { from: 'carol@example.com', to });
    expect(await desk.services.requests.get(owner.requestId!)).toMatchObject({ decision: { kind: 'prioritize' } });
    expect(await desk.services.rebuilds.status('carol@example.com')).toMatchObject({ state: 'prioritized' });
  });

  test('to an address that is not ours is refused with 550 5.1.1', async () => {
    desk = await startDesk(redis.url, {}, { workers: false });
    await expect(sendRaw(desk.smtpPort, message({ from: 'jdoe@example.com', subject: 'Priority rebuild', body: 'x' }), { from: 'jdoe@example.com', to: ['someone@else.example'] })).rejects.toMatchObject({
      responseCode: 550,
      response: expect.stringContaining('5.1.1'),
    });
  });

  test('over the size limit gets 552 5.3.4, and the next message is still served', async () => {
    desk = await startDesk(redis.url, { SMTP_MAX_SIZE: '20000' }, { workers: false });
    const big = message({ from: 'jdoe@example.com', subject: 'Priority rebuild', body: `Account: jdoe\n${'x'.repeat(76)}\n`.repeat(400) });
    await expect(sendRaw(desk.smtpPort, big, { from: 'jdoe@example.com', to })).rejects.toMatchObject({ responseCode: 552, response: expect.stringContaining('5.3.4') });
    const next = await sendRaw(desk.smtpPort, message({ from: 'jdoe@example.com', subject: 'Priority rebuild', body: 'Account: jdoe' }), { from: 'jdoe@example.com', to });
    expect(next.requestId).toMatch(/^R-/);
  });

  test('with Redis down is answered 451 within seconds, and the retried message is handled once Redis is back', async () => {
    const own = await startRedis();
    try {
      desk = await startDesk(own.url, {}, { workers: false });
      const raw = message({ from: 'bob@example.com', subject: 'Priority rebuild', body: 'login: bob', messageId: 'retry-me@example.com' });
      await own.stop();
      const started = Date.now();
      await expect(sendRaw(desk.smtpPort, raw, { from: 'bob@example.com', to })).rejects.toMatchObject({ responseCode: 451, response: expect.stringContaining('4.3.0') });
      expect(Date.now() - started).toBeLessThan(8_000);

      await own.start();
      const retried = await waitUntil(() => sendRaw(desk!.smtpPort, raw, { from: 'bob@example.com', to }).catch(() => undefined), 15_000, 'Redis back');
      expect(retried.requestId).toMatch(/^R-/);
      expect(await desk.services.rebuilds.status('bob@example.com')).toMatchObject({ state: 'prioritized' });
      expect(await desk.services.requests.countRequests()).toBe(1);
    } finally {
      await desk?.stop();
      desk = null;
      await own.destroy();
    }
  });

  test('over LMTP is accepted the same way', async () => {
    desk = await startDesk(redis.url, { SMTP_LMTP: 'true' }, { workers: false });
    const reply = await sendRaw(desk.smtpPort, message({ from: 'jdoe@example.com', subject: 'Priority rebuild', body: 'Account: jdoe' }), { from: 'jdoe@example.com', to }, { lmtp: true });
    expect(reply.requestId).toMatch(/^R-/);
  });
});
