import { mkdtempSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handCrafted, mutations, type HostileMessage } from '../../scripts/hostile-corpus';
import { isValidAccount } from '../../src/accounts/account-name';
import { RECORDER, recorded, startDesk, type Desk } from '../helpers/desk';
import { startRedis, type TestRedis } from '../helpers/redis-server';
import { message, sendRaw } from '../helpers/send-mail';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';

/**
 * Hostile input through the real listener (SPEC §2.2, §4.4, §5): hand-written malformed and malicious
 * messages, then at least 10,000 seeded mutations of the fixtures. The listener answers every one with
 * a proper SMTP reply and stays up; no notice carries a header or recipient a customer smuggled in;
 * nothing but a valid account name reaches the rebuild command. HOSTILE_SEED=N replays a run.
 */

const SEED = Number(process.env.HOSTILE_SEED ?? Date.now() % 2 ** 31);
const MUTATIONS = 10_000;
const CONNECTIONS = 8;

/** Every header a notice may have (notify/send.ts): anything else was smuggled in. */
const NOTICE_HEADERS = new Set([
  'content-type',
  'content-transfer-encoding',
  'from',
  'to',
  'subject',
  'message-id',
  'date',
  'mime-version',
  'in-reply-to',
  'references',
  'auto-submitted',
  'x-auto-response-suppress',
  'x-rebuild-desk-loop',
]);

let redis: TestRedis;
let sink: SmtpSink;
let desk: Desk;
let recordFile: string;

beforeAll(async () => {
  redis = await startRedis();
  sink = await startSmtpSink();
  recordFile = join(mkdtempSync(join(tmpdir(), 'rebuild-desk-hostile-')), 'rebuilds.log');
  desk = await startDesk(redis.url, {
    OUTBOUND_SMTP_URL: sink.url,
    REBUILD_COMMAND: JSON.stringify(['sh', RECORDER, '{account}', recordFile]),
    WORKER_CONCURRENCY: '2',
    RATE_LIMIT_PER_SENDER: '1000000',
    RATE_LIMIT_PER_ACCOUNT: '1000000',
  });
});

afterAll(async () => {
  await desk?.stop();
  await sink?.close();
  await redis?.destroy();
});

/** One SMTP session that sends arbitrary bytes and reports the reply to each message, whatever it is. */
class Session {
  private buffer = '';
  private wake: (() => void) | null = null;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer += d.toString('latin1');
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number): Promise<Session> {
    const socket = connect({ port, host: '127.0.0.1' });
    await new Promise<void>((ok, fail) => {
      socket.once('connect', ok);
      socket.once('error', fail);
    });
    const session = new Session(socket);
    await session.reply();
    await session.command('EHLO hostile.test');
    return session;
  }

  get open(): boolean {
    return !this.closed;
  }

  /** The next reply, or '' when the server closed the connection without one. */
  async reply(timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = /^(?:\d{3}-[^\n]*\n)*\d{3} [^\n]*\n/.exec(this.buffer);
      if (match) {
        this.buffer = this.buffer.slice(match[0].length);
        return match[0].trim().split('\n').pop()!.trim();
      }
      if (this.closed || Date.now() > deadline) return '';
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 500);
      });
      this.wake = null;
    }
  }

  async command(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  /** Sends one message; returns the reply to its final dot (or to the command that ended it). */
  async send(msg: HostileMessage): Promise<string> {
    await this.command('RSET');
    const from = await this.command('MAIL FROM:<sender@hostile.test>');
    if (!from.startsWith('250')) return from;
    let accepted = 0;
    let last = '';
    for (let i = 0; i < (msg.recipients ?? 1); i++) {
      last = await this.command('RCPT TO:<webmaster@localhost>');
      if (last.startsWith('250')) accepted++;
      if (!this.open) return last;
    }
    if (accepted === 0) return last;
    const data = await this.command('DATA');
    if (!data.startsWith('354')) return data;
    // RFC 5321 §4.5.2: a line starting with "." gets another one; the message ends with CRLF "." CRLF.
    let text = msg.raw.toString('latin1').replace(/(^|\n)\./g, '$1..');
    if (!text.endsWith('\r\n')) text += '\r\n';
    this.socket.write(Buffer.from(`${text}.\r\n`, 'latin1'));
    return this.reply();
  }

  close(): void {
    this.socket.destroy();
  }
}

function headerNames(raw: Buffer): string[] {
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  return (end >= 0 ? text.slice(0, end) : text)
    .split(/\r?\n/)
    .filter((line) => line && !/^[ \t]/.test(line))
    .map((line) => line.slice(0, line.indexOf(':')).toLowerCase());
}

test(`hostile and mutated input (seed ${SEED}): every message answered, the listener stays up, nothing smuggled through`, async () => {
  console.log(`hostile input seed: ${SEED} (replay with HOSTILE_SEED=${SEED})`);
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  const started = Date.now();

  const corpus: Iterator<HostileMessage> = (function* () {
    yield* handCrafted();
    yield* mutations(SEED, MUTATIONS);
  })();
  const replies = new Map<string, number>();
  const invalid: string[] = [];
  let tried = 0;

  const worker = async () => {
    let session = null as Session | null;
    for (let next = corpus.next(); !next.done; next = corpus.next()) {
      const msg = next.value;
      tried++;
      session = session?.open ? session : await Session.open(desk.smtpPort);
      const reply = await session.send(msg);
      const code = /^([245])\d\d[ -]/.exec(reply)?.[0].slice(0, 3);
      if (!code) invalid.push(`${msg.name}: ${JSON.stringify(reply.slice(0, 200))}`);
      else replies.set(code, (replies.get(code) ?? 0) + 1);
    }
    session?.close();
  };
  try {
    await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  } finally {
    clearInterval(sampler);
  }
  const sendSeconds = (Date.now() - started) / 1000;

  // Still serving ordinary mail.
  const last = await sendRaw(desk.smtpPort, message({ from: 'jdoe@example.com', subject: 'Priority rebuild', body: 'Account: jdoe@example.com' }), { from: 'jdoe@example.com', to: ['webmaster@localhost'] });
  expect(last.response).toMatch(/^250 2\.0\.0 Accepted as R-/);

  // Let the workers finish what was queued before looking at what came out.
  const drained = Date.now() + 60_000;
  for (;;) {
    const counts = await desk.services.notices.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    if (Object.values(counts).every((n) => n === 0) || Date.now() > drained) break;
    await new Promise((r) => setTimeout(r, 250));
  }

  const smuggled: string[] = [];
  for (const notice of sink.messages) {
    const extra = headerNames(notice.raw).filter((name) => !NOTICE_HEADERS.has(name));
    const toHeader = notice.parsed.to && !Array.isArray(notice.parsed.to) ? notice.parsed.to.value : [];
    const injectedAddress = [...notice.rcptTo, ...toHeader.map((a) => a.address ?? '')].some((a) => /evil\.example/i.test(a));
    if (extra.length > 0 || notice.rcptTo.length !== 1 || toHeader.length !== 1 || injectedAddress) {
      smuggled.push(`${notice.rcptTo.join(',')} headers=${headerNames(notice.raw).join(',')}`);
    }
  }
  // The injection attempts were answered (so the checks above saw them), each only to its sender.
  const repliesTo = (id: string) => sink.messages.filter((m) => String(m.parsed.inReplyTo ?? '').includes(`hostile-${id}@corpus.test`));
  for (const [id, sender] of [['inj1', 'alice'], ['inj2', 'bob'], ['inj3', 'carol'], ['inj4', 'dave'], ['inj5', 'erin'], ['inj6', 'frank']]) {
    const to = repliesTo(id).map((m) => m.rcptTo.join(','));
    expect(to.length).toBeGreaterThan(0); // the confirmation, and the completion notice if the rebuild is done
    expect(new Set(to)).toEqual(new Set([`${sender}@example.com`]));
  }
  const commandLines = recorded(recordFile);
  const badAccounts = commandLines.filter((line) => !/^(start|end) /.test(line) || !isValidAccount(line.replace(/^(start|end) /, '')));

  console.log(
    `[hostile-input] seed=${SEED} inputs=${tried} handCrafted=${handCrafted().length} mutated=${MUTATIONS} ` +
      `replies=${JSON.stringify(Object.fromEntries([...replies].sort()))} invalidReplies=${invalid.length} crashes=0 ` +
      `stored=${await desk.services.requests.countRequests()} notices=${sink.messages.length} smuggled=${smuggled.length} ` +
      `rebuildCommandRuns=${commandLines.length / 2} badAccounts=${badAccounts.length} peakRssMB=${Math.round(peakRss / 1024 / 1024)} seconds=${sendSeconds.toFixed(1)}`,
  );

  expect(tried).toBeGreaterThanOrEqual(MUTATIONS);
  expect(invalid).toEqual([]);
  expect(replies.get('250') ?? 0).toBeGreaterThan(0);
  expect(replies.get('552') ?? 0).toBeGreaterThan(0); // the 1 MB header line, at least
  expect(sink.messages.length).toBeGreaterThan(0); // there were notices to check
  expect(smuggled).toEqual([]);
  expect(commandLines.length).toBeGreaterThan(0);
  expect(badAccounts).toEqual([]);
}, 240_000);
