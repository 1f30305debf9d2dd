import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { startDesk, type Desk } from '../helpers/desk';
import { startRedis, type TestRedis } from '../helpers/redis-server';
import { message, sendRaw } from '../helpers/send-mail';
import { RawSmtp } from '../helpers/raw-smtp';

/**
 * The listener's own limits (SPEC §5 "Limits on the listener"): STARTTLS, connections in all and per
 * address, idle and whole-session timeouts, recipients, and the size of the header section. Each test
 * also checks that the listener keeps serving ordinary mail while a limit is being enforced.
 */

let redis: TestRedis;
let desk: Desk | null = null;
const sockets: RawSmtp[] = [];

/** A raw client closed after each test. */
async function openRaw(port: number, localAddress?: string): Promise<RawSmtp> {
  const client = await RawSmtp.open(port, localAddress);
  sockets.push(client);
  return client;
}
const to = ['webmaster@localhost'];

beforeAll(async () => {
  redis = await startRedis();
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await desk?.stop();
  desk = null;
});

afterAll(async () => {
  await redis.destroy();
});

const request = (body = 'Account: jdoe@example.com') => message({ from: 'jdoe@example.com', subject: 'Priority rebuild', body });

describe('STARTTLS', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rebuild-desk-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function sendOverTls(port: number): Promise<string> {
    const transport = createTransport({ host: '127.0.0.1', port, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, socketTimeout: 10_000 });
    try {
      return String((await transport.sendMail({ envelope: { from: 'jdoe@example.com', to }, raw: request() })).response);
    } finally {
      transport.close();
    }
  }

  test('with a key and certificate, a client upgrades with STARTTLS and its message is accepted', async () => {
    desk = await startDesk(redis.url, { SMTP_TLS_KEY: join(dir, 'key.pem'), SMTP_TLS_CERT: join(dir, 'cert.pem') }, { workers: false });
    const client = await openRaw(desk.smtpPort);
    await client.reply();
    expect(await client.command('EHLO client.test')).toMatch(/^250-STARTTLS$/m);
    expect(await sendOverTls(desk.smtpPort)).toMatch(/^250 2\.0\.0 Accepted as R-/);
  });

  test('without them, STARTTLS is not offered, so a client that requires TLS cannot send', async () => {
    desk = await startDesk(redis.url, {}, { workers: false });
    await expect(sendOverTls(desk.smtpPort)).rejects.toThrow(/STARTTLS/);
  });
});

describe('connection limits', () => {
  test('over SMTP_MAX_CONNECTIONS a new client is told 421 and a freed slot is served again', async () => {
    desk = await startDesk(redis.url, { SMTP_MAX_CONNECTIONS: '3', SMTP_MAX_CONNECTIONS_PER_IP: '100' }, { workers: false });
    const open = await Promise.all([1, 2, 3].map(() => openRaw(desk!.smtpPort)));
    for (const c of open) expect(await c.reply()).toMatch(/^220 /);
    const fourth = await openRaw(desk.smtpPort);
    expect(await fourth.reply()).toMatch(/^421 /);
    await fourth.untilClosed(8_000);

    await open[0].command('QUIT');
    await open[0].untilClosed(8_000);
    const again = await openRaw(desk.smtpPort);
    expect(await again.reply()).toMatch(/^220 /);
  });

  test('over SMTP_MAX_CONNECTIONS_PER_IP one address is told 421 4.7.0 while another address is served', async () => {
    desk = await startDesk(redis.url, { SMTP_MAX_CONNECTIONS_PER_IP: '2' }, { workers: false });
    const open = [await openRaw(desk.smtpPort), await openRaw(desk.smtpPort)];
    for (const c of open) expect(await c.reply()).toMatch(/^220 /);
    const third = await openRaw(desk.smtpPort);
    expect(await third.reply()).toMatch(/^421 4\.7\.0 /);
    await third.untilClosed(8_000);

    const other = await openRaw(desk.smtpPort, '127.0.0.2');
    expect(await other.reply()).toMatch(/^220 /);

    open[0].destroy();
    await new Promise((r) => setTimeout(r, 300));
    const next = await openRaw(desk.smtpPort);
    expect(await next.reply()).toMatch(/^220 /);
    const over = await openRaw(desk.smtpPort);
    expect(await over.reply()).toMatch(/^421 4\.7\.0 /);
  });

  test('a connection refused for the total limit does not free a slot of its address', async () => {
    desk = await startDesk(redis.url, { SMTP_MAX_CONNECTIONS: '3', SMTP_MAX_CONNECTIONS_PER_IP: '2' }, { workers: false });
    const mine = [await openRaw(desk.smtpPort), await openRaw(desk.smtpPort)];
    const other = await openRaw(desk.smtpPort, '127.0.0.2');
    for (const c of [...mine, other]) expect(await c.reply()).toMatch(/^220 /);
    const refused = await openRaw(desk.smtpPort);
    expect(await refused.reply()).toMatch(/^421 /); // the total limit, before the address is counted
    await refused.untilClosed(8_000);
    other.destroy();
    await new Promise((r) => setTimeout(r, 300));
    // Still two of this address open: a third is over its own limit.
    const third = await openRaw(desk.smtpPort);
    expect(await third.reply()).toMatch(/^421 4\.7\.0 /);
  });
});

describe('timeouts', () => {
  test('a client that goes quiet is cut off after SMTP_IDLE_TIMEOUT_MS', async () => {
    desk = await startDesk(redis.url, { SMTP_IDLE_TIMEOUT_MS: '1000' }, { workers: false });
    const quiet = await openRaw(desk.smtpPort);
    await quiet.reply();
    await quiet.command('EHLO quiet.test');
    expect(await quiet.reply(8_000)).toMatch(/^421 /);
    await quiet.untilClosed(8_000);
  });

  test('a client dribbling its message byte by byte is cut off by SMTP_SESSION_TIMEOUT_MS while others are served', async () => {
    desk = await startDesk(redis.url, { SMTP_IDLE_TIMEOUT_MS: '2000', SMTP_SESSION_TIMEOUT_MS: '3000' }, { workers: false });
    const slow = await openRaw(desk.smtpPort);
    await slow.reply();
    await slow.command('EHLO slow.test');
    expect(await slow.command('MAIL FROM:<slow@example.com>')).toMatch(/^250/);
    expect(await slow.command('RCPT TO:<webmaster@localhost>')).toMatch(/^250/);
    expect(await slow.command('DATA')).toMatch(/^354/);
    // One byte every 200 ms: never idle long enough for the idle timeout.
    const dribble = setInterval(() => {
      if (!slow.closed) slow.socket.write('x');
    }, 200);
    try {
      const started = Date.now();
      const served: string[] = [];
      while (!slow.closed && Date.now() - started < 15_000) {
        served.push((await sendRaw(desk.smtpPort, request(), { from: 'jdoe@example.com', to })).response);
      }
      expect(slow.closed).toBe(true);
      expect(served.length).toBeGreaterThan(0);
      for (const response of served) expect(response).toMatch(/^250 /);
      expect(Date.now() - started).toBeLessThan(12_000);
    } finally {
      clearInterval(dribble);
    }
    expect((await sendRaw(desk.smtpPort, request(), { from: 'jdoe@example.com', to })).response).toMatch(/^250 /);
  });
});

describe('recipients and header size', () => {
  test('recipients past SMTP_MAX_RECIPIENTS are refused with 452 4.5.3; the accepted ones get the message', async () => {
    desk = await startDesk(redis.url, { SMTP_MAX_RECIPIENTS: '2', INTAKE_ADDRESSES: 'webmaster@localhost,help@localhost,rebuild@localhost' }, { workers: false });
    const client = await openRaw(desk.smtpPort);
    await client.reply();
    await client.command('EHLO many.test');
    await client.command('MAIL FROM:<jdoe@example.com>');
    expect(await client.command('RCPT TO:<webmaster@localhost>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<help@localhost>')).toMatch(/^250/);
    expect(await client.command('RCPT TO:<rebuild@localhost>')).toMatch(/^452 4\.5\.3 /);
    expect(await client.command('DATA')).toMatch(/^354/);
    expect(await client.command(`${request()}\r\n.`)).toMatch(/^250 2\.0\.0 Accepted as R-/);
  });

  test('a header section over SMTP_MAX_HEADER_SIZE gets 552 5.3.4; a big body under a small header does not', async () => {
    desk = await startDesk(redis.url, { SMTP_MAX_HEADER_SIZE: '4096' }, { workers: false });
    const longLine = message({ from: 'jdoe@example.com', subject: 'Priority rebuild', body: 'Account: jdoe', headers: { 'X-Long': 'y'.repeat(10_000) } });
    await expect(sendRaw(desk.smtpPort, longLine, { from: 'jdoe@example.com', to })).rejects.toMatchObject({ responseCode: 552, response: expect.stringContaining('5.3.4 Header section too big') });

    const manyHeaders = message({ from: 'jdoe@example.com', subject: 'Priority rebuild', body: 'Account: jdoe', headers: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`X-H${i}`, 'v'])) });
    await expect(sendRaw(desk.smtpPort, manyHeaders, { from: 'jdoe@example.com', to })).rejects.toMatchObject({ responseCode: 552 });

    const noBlankLine = `From: jdoe@example.com\r\nSubject: Priority rebuild\r\n${'X-Filler: zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\r\n'.repeat(200)}`;
    await expect(sendRaw(desk.smtpPort, noBlankLine, { from: 'jdoe@example.com', to })).rejects.toMatchObject({ responseCode: 552 });

    const bigBody = request(`Account: jdoe\r\n${'z'.repeat(70)}\r\n`.repeat(1_000));
    expect((await sendRaw(desk.smtpPort, bigBody, { from: 'jdoe@example.com', to })).response).toMatch(/^250 /);
    const justUnder = message({ from: 'jdoe@example.com', subject: 'Priority rebuild', body: 'Account: jdoe', headers: { 'X-Long': 'y'.repeat(3_000) } });
    expect((await sendRaw(desk.smtpPort, justUnder, { from: 'jdoe@example.com', to })).response).toMatch(/^250 /);
  });
});
