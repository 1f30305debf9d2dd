import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Decision } from '../../src/intake/decide';
import { silentLogger } from '../../src/log';
import { Metrics } from '../../src/metrics';
import { notifyCompleted, notifyFailed } from '../../src/notify/completion';
import { startNoticeWorker } from '../../src/notify/notice-worker';
import { loadTemplates, type Templates } from '../../src/notify/render';
import { createMailer, type Mailer } from '../../src/notify/send';
import { producerConnection, waitReady } from '../../src/queue/connection';
import { NoticeQueue } from '../../src/queue/notice-queue';
import { RequestStore } from '../../src/requests/request-store';
import { startRedis, testPrefix, type TestRedis } from '../helpers/redis-server';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';

const ACCOUNT = 'jdoe@provider.example';
const OWNER = 'jdoe@provider.example';
const PARTNER = 'Partner@Family.example'; // registered for the account; mixed case as customers type it
const STRANGER = 'someone@elsewhere.example';

let redis: TestRedis;
let sink: SmtpSink;
let templates: Templates;
let producer: Redis;
let requests: RequestStore;
let notices: NoticeQueue;
let mailer: Mailer;
let worker: { close(): Promise<void> };
let received = Date.now();

beforeAll(async () => {
  [redis, sink, templates] = await Promise.all([startRedis(), startSmtpSink(), loadTemplates(join(__dirname, '../../templates'))]);
  producer = producerConnection(redis.url);
  await waitReady(producer);
});

beforeEach(() => {
  const prefix = testPrefix('completion');
  sink.messages.length = 0;
  requests = new RequestStore(producer, prefix);
  notices = new NoticeQueue(producer, prefix, { attempts: 3, delayMs: 200 });
  mailer = createMailer({ outboundUrl: sink.url, outboxDir: '/nonexistent', fromAddress: 'webmaster@provider.example', log: silentLogger });
  worker = startNoticeWorker({ redisUrl: redis.url, prefix, templates, mailer, requests, metrics: new Metrics({ defaultMetrics: false }), log: silentLogger });
});

afterEach(async () => {
  await worker.close();
  mailer.close();
  await notices.close();
});

afterAll(async () => {
  producer?.disconnect();
  await sink?.close();
  await redis?.destroy();
});

async function store(from: string, decision: Decision): Promise<string> {
  const messageId = `${Math.random().toString(36).slice(2)}@client.example`;
  const { id } = await requests.create(
    {
      received: ++received,
      envelopeFrom: from.toLowerCase(),
      envelopeTo: ['webmaster@provider.example'],
      remoteAddress: '127.0.0.1',
      helo: 'client.example',
      messageId,
      from,
      subject: 'Priority rebuild',
      classification: decision.kind === 'ignore' ? 'automatic' : 'request',
      account: ACCOUNT,
      decision,
      auth: 'none',
      text: `Account: ${ACCOUNT}`,
      headerBlock: '',
    },
    Buffer.from(`From: ${from}\r\nSubject: Priority rebuild\r\n\r\nAccount: ${ACCOUNT}\r\n`),
  );
  return id;
}

const prioritize: Decision = { kind: 'prioritize', reason: 'verified', account: ACCOUNT, reply: 'confirmation' };
const unchanged: Decision = { kind: 'unchanged', reason: 'verified', account: ACCOUNT, state: 'prioritized', reply: 'already-queued' };
const notEntitled: Decision = { kind: 'review', reason: 'not-entitled', account: ACCOUNT, reply: 'pending-review' };
const automatic: Decision = { kind: 'ignore', reason: 'automatic', rule: 'auto-submitted' };

/** The mixed history of one account: the owner twice, a registered partner, a stranger, an auto-reply. */
async function storeHistory() {
  const ownerFirst = await store(OWNER, prioritize);
  const ownerAgain = await store(OWNER.toUpperCase(), unchanged);
  const partner = await store(PARTNER, unchanged);
  const stranger = await store(STRANGER, notEntitled);
  await store('mailer-daemon@client.example', automatic);
  return { ownerFirst, ownerAgain, partner, stranger };
}

async function jobsOfKind(kind: string) {
  const jobs = await notices.queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed']);
  return jobs.filter((j) => j.data.kind === kind);
}

const settle = (ms = 400) => new Promise((r) => setTimeout(r, ms));

describe('when a rebuild finishes', () => {
  it('every entitled requester is told once, under their first request, however often it is reported', async () => {
    const { ownerFirst, partner } = await storeHistory();

    expect(await notifyCompleted(ACCOUNT, { requests, notices })).toBe(2);
    expect(await notifyCompleted(ACCOUNT, { requests, notices })).toBe(2);

    const jobs = await jobsOfKind('completed');
    expect(jobs.map((j) => j.id).sort()).toEqual([`${ownerFirst}-completed`, `${partner}-completed`].sort());
    const mail = await sink.waitFor(2);
    await settle();
    expect(sink.messages).toHaveLength(2);
    expect(mail.map((m) => m.rcptTo[0].toLowerCase()).sort()).toEqual([OWNER, PARTNER.toLowerCase()].sort());
    for (const m of mail) {
      expect(m.parsed.headers.get('auto-submitted')).toBe('auto-generated');
      expect(m.parsed.subject).toBe('Re: Priority rebuild');
      expect(m.parsed.text).toContain(ACCOUNT);
    }
  });

  it('a requester staff approved is told too', async () => {
    const stranger = await store(STRANGER, notEntitled);
    await requests.resolveReview(stranger, 'approved', { at: Date.now(), by: 'alice', action: 'approve' });

    expect(await notifyCompleted(ACCOUNT, { requests, notices })).toBe(1);
    const [mail] = await sink.waitFor(1);
    expect(mail.rcptTo).toEqual([STRANGER]);
    expect(mail.parsed.headers.get('x-rebuild-desk-loop')).toBe(stranger);
  });

  it('a forged sender is never told, even after staff approved the request', async () => {
    const forged = await store(OWNER, { kind: 'review', reason: 'forged', account: ACCOUNT, reply: null });
    await requests.resolveReview(forged, 'approved', { at: Date.now(), by: 'alice', action: 'approve' });

    expect(await notifyCompleted(ACCOUNT, { requests, notices })).toBe(0);
    expect(await jobsOfKind('completed')).toHaveLength(0);
  });

  it('nobody is told about an account that came from the backlog without a request', async () => {
    expect(await notifyCompleted('backlog-only@provider.example', { requests, notices })).toBe(0);
    expect(await notifyFailed('backlog-only@provider.example', { requests, notices }, 'exit 1')).toBe(0);
    expect(await jobsOfKind('completed')).toHaveLength(0);
    expect((await requests.listReview({ reason: 'rebuild-failed' })).total).toBe(0);
  });
});

describe('when a rebuild fails after its retries', () => {
  it('the entitled requesters are told it is delayed and staff get a rebuild-failed item on the newest request', async () => {
    const { ownerFirst, partner } = await storeHistory();

    expect(await notifyFailed(ACCOUNT, { requests, notices }, 'reconstruct exited with code 75')).toBe(2);

    const jobs = await jobsOfKind('delayed');
    expect(jobs.map((j) => j.id).sort()).toEqual([`${ownerFirst}-delayed`, `${partner}-delayed`].sort());
    const mail = await sink.waitFor(2);
    expect(mail.map((m) => m.parsed.headers.get('auto-submitted'))).toEqual(['auto-generated', 'auto-generated']);

    const { items } = await requests.listReview({ reason: 'rebuild-failed' });
    expect(items.map((r) => r.id)).toEqual([partner]);
    expect(items[0].review).toBe('open');
    const history = await requests.history(partner);
    expect(history.at(-1)).toMatchObject({ by: 'bot', action: 'rebuild-failed', detail: 'reconstruct exited with code 75' });
  });
});
