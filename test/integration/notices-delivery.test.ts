import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import type { Redis } from 'ioredis';
import { LOOP_HEADER } from '../../src/intake/classify';
import { silentLogger } from '../../src/log';
import { Metrics } from '../../src/metrics';
import { NOTICE_KINDS, outboundJobId, type NoticeData, type NoticeKind, type OutboundJob } from '../../src/notify/notice';
import { startNoticeWorker } from '../../src/notify/notice-worker';
import { loadTemplates, type Templates } from '../../src/notify/render';
import { createMailer } from '../../src/notify/send';
import { producerConnection, waitReady } from '../../src/queue/connection';
import { NoticeQueue } from '../../src/queue/notice-queue';
import { RequestStore, type NewRequest } from '../../src/requests/request-store';
import { startRedis, testPrefix, type TestRedis } from '../helpers/redis-server';
import { message } from '../helpers/send-mail';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';

const FROM = 'webmaster@provider.example';
const CUSTOMER = 'jane.doe@gmail.example';
const BODY_MARKER = 'my cat walked over the keyboard';
const FAST_RETRY = { attempts: 10, delayMs: 200 };

let redis: TestRedis;
let sink: SmtpSink;
let templates: Templates;
let outboxes: string[] = [];

interface Pipeline {
  notices: NoticeQueue;
  requests: RequestStore;
  metrics: Metrics;
  close(): Promise<void>;
}

let running: Pipeline[] = [];

async function startPipeline(options: { outboxDir?: string; retry?: { attempts: number; delayMs: number } } = {}): Promise<Pipeline> {
  const prefix = testPrefix('notices');
  const producer: Redis = producerConnection(redis.url);
  await waitReady(producer);
  const notices = new NoticeQueue(producer, prefix, options.retry ?? FAST_RETRY);
  const requests = new RequestStore(producer, prefix);
  const metrics = new Metrics({ defaultMetrics: false });
  const mailer = createMailer({ outboundUrl: options.outboxDir ? undefined : sink.url, outboxDir: options.outboxDir ?? '/nonexistent', fromAddress: FROM, log: silentLogger });
  const worker = startNoticeWorker({ redisUrl: redis.url, prefix, templates, mailer, requests, metrics, log: silentLogger });
  const pipeline: Pipeline = {
    notices,
    requests,
    metrics,
    async close() {
      await worker.close();
      mailer.close();
      await notices.close();
      producer.disconnect();
    },
  };
  running.push(pipeline);
  return pipeline;
}

/** A request stored the way intake stores it, with a body the notices must never repeat. */
async function storeRequest(requests: RequestStore, subject: string, decision: NewRequest['decision'] = { kind: 'prioritize', reason: 'verified', account: 'jdoe@provider.example', reply: 'confirmation' }) {
  const messageId = `${Math.random().toString(36).slice(2)}@mail.gmail.example`;
  const raw = Buffer.from(message({ from: CUSTOMER, subject, body: `Account: jdoe@provider.example\r\n${BODY_MARKER}`, messageId }));
  const { id } = await requests.create(
    {
      received: Date.now(),
      envelopeFrom: CUSTOMER,
      envelopeTo: ['webmaster@provider.example'],
      remoteAddress: '127.0.0.1',
      helo: 'mail.gmail.example',
      messageId,
      from: CUSTOMER,
      subject,
      classification: 'request',
      account: 'jdoe@provider.example',
      decision,
      auth: 'none',
      text: `Account: jdoe@provider.example\n${BODY_MARKER}`,
      headerBlock: '',
    },
    raw,
  );
  return { id, messageId, raw };
}

function notice(kind: NoticeKind, requestId: string, messageId: string, extra: Partial<NoticeData> = {}): NoticeData {
  return {
    kind,
    requestId,
    to: CUSTOMER,
    account: 'jdoe@provider.example',
    originalSubject: 'Priority rebuild',
    originalMessageId: messageId,
    position: 2,
    estimateMinutes: 9,
    ...extra,
  };
}

async function waitForState(notices: NoticeQueue, job: OutboundJob, state: 'completed' | 'failed', timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await notices.queue.getJob(outboundJobId(job));
    // Read the job again once it is there: the copy read before its state changed is stale.
    if (found && (await found.getState()) === state) return (await notices.queue.getJob(outboundJobId(job)))!;
    if (Date.now() > deadline) throw new Error(`job ${outboundJobId(job)} did not reach ${state}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function counter(metrics: Metrics, name: 'noticesSent' | 'noticesFailed', labels: Record<string, string>): Promise<number> {
  const { values } = await metrics[name].get();
  return values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k as keyof typeof v.labels] === want)).reduce((sum, v) => sum + v.value, 0);
}

const settle = (ms = 400) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  [redis, sink, templates] = await Promise.all([startRedis(), startSmtpSink(), loadTemplates(join(__dirname, '../../templates'))]);
});

beforeEach(() => {
  sink.messages.length = 0;
  sink.refusals = 0;
  sink.accept();
});

afterEach(async () => {
  await Promise.all(running.map((p) => p.close()));
  running = [];
});

afterAll(async () => {
  await sink?.close();
  await redis?.destroy();
  for (const dir of outboxes) rmSync(dir, { recursive: true, force: true });
  outboxes = [];
});

describe('notices at the relay', () => {
  it.each(NOTICE_KINDS)('the %s notice is one RFC 3834 reply to the sender, threaded, marked and never quoting the request', async (kind) => {
    const { notices, requests, metrics } = await startPipeline();
    const { id, messageId } = await storeRequest(requests, 'Priority rebuild');
    const data = notice(kind, id, messageId, kind === 'rejected' ? { staffMessage: 'Please write from your registered address.' } : {});
    await notices.send(data);

    const [mail] = await sink.waitFor(1);
    await waitForState(notices, data, 'completed');
    await settle(200);
    expect(sink.messages).toHaveLength(1);
    expect(mail.mailFrom).toBe(''); // MAIL FROM:<>
    expect(mail.rcptTo).toEqual([CUSTOMER]);

    const { parsed } = mail;
    expect(parsed.from?.value.map((a) => a.address)).toEqual([FROM]);
    // Replies answer the customer's message; completed and delayed are caused by the rebuild, hours later.
    expect(parsed.headers.get('auto-submitted')).toBe(kind === 'completed' || kind === 'delayed' ? 'auto-generated' : 'auto-replied');
    expect(parsed.headers.get('x-auto-response-suppress')).toBe('All');
    expect(parsed.headers.has('precedence')).toBe(false);
    expect(parsed.inReplyTo).toBe(`<${messageId}>`);
    expect(parsed.references).toBe(`<${messageId}>`);
    expect(parsed.messageId).toMatch(/^<[^@>]+@provider\.example>$/);
    expect(parsed.subject).toBe('Re: Priority rebuild');
    expect(parsed.headers.get(LOOP_HEADER.toLowerCase())).toBe(id);
    expect(parsed.text).toContain(id);
    expect(parsed.html).toEqual(expect.stringContaining(id));
    expect(mail.raw.toString()).not.toContain(BODY_MARKER);
    expect(await counter(metrics, 'noticesSent', { kind })).toBe(1);
  });

  it('sends a notice queued twice for the same request and kind once', async () => {
    const { notices, requests } = await startPipeline();
    const { id, messageId } = await storeRequest(requests, 'Priority rebuild');
    const data = notice('confirmation', id, messageId);
    await notices.send(data);
    await notices.send({ ...data, position: 1 });

    await waitForState(notices, data, 'completed');
    await settle();
    expect(sink.messages).toHaveLength(1);
  });

  it('keeps notices while the relay is down and delivers each once when it is back', async () => {
    await sink.stop();
    const { notices, requests, metrics } = await startPipeline();
    const sent: NoticeData[] = [];
    for (const kind of ['confirmation', 'in-progress', 'pending-review'] as const) {
      const { id, messageId } = await storeRequest(requests, 'Priority rebuild');
      sent.push(notice(kind, id, messageId));
      await notices.send(sent.at(-1)!);
    }

    await settle(1_500);
    expect(sink.messages).toHaveLength(0);
    expect(await counter(metrics, 'noticesFailed', { final: 'false' })).toBeGreaterThan(0);

    await sink.start();
    await sink.waitFor(3, 20_000);
    for (const data of sent) await waitForState(notices, data, 'completed');
    await settle();
    expect(sink.messages.map((m) => m.parsed.headers.get(LOOP_HEADER.toLowerCase())).sort()).toEqual(sent.map((d) => d.requestId).sort());
  });

  it.each([
    ['RCPT', 'rcpt', 450],
    ['DATA', 'data', 451],
  ] as const)('retries while the relay answers 4xx to %s, then delivers once', async (_name, stage, code) => {
    sink.refuse(stage, code, 2);
    const { notices, requests, metrics } = await startPipeline();
    const { id, messageId } = await storeRequest(requests, 'Priority rebuild');
    const data = notice('confirmation', id, messageId);
    await notices.send(data);

    const job = await waitForState(notices, data, 'completed');
    await settle();
    expect(sink.messages).toHaveLength(1);
    expect(sink.refusals).toBe(2);
    expect(job.attemptsMade).toBe(3);
    expect(await counter(metrics, 'noticesFailed', { kind: 'confirmation', final: 'false' })).toBe(2);
  });

  it.each([
    ['RCPT', 'rcpt', 550],
    ['DATA', 'data', 554],
  ] as const)('gives up at once when the relay answers 5xx to %s, and counts it as final', async (_name, stage, code) => {
    sink.refuse(stage, code);
    const { notices, requests, metrics } = await startPipeline();
    const { id, messageId } = await storeRequest(requests, 'Priority rebuild');
    const data = notice('completed', id, messageId);
    await notices.send(data);

    const job = await waitForState(notices, data, 'failed');
    await settle(800); // longer than the first backoff: a retry would have happened by now
    expect(job.attemptsMade).toBe(1);
    expect(sink.refusals).toBe(1);
    expect(sink.messages).toHaveLength(0);
    expect(await counter(metrics, 'noticesFailed', { kind: 'completed', final: 'true' })).toBe(1);
    expect(await counter(metrics, 'noticesSent', {})).toBe(0);
  });

  it.each([
    ['an address list', `${CUSTOMER}, victim@example.org`],
    ['an SMTP command smuggled in', `${CUSTOMER}>\r\nRCPT TO:<victim@example.org`],
  ])('never sends to a recipient that is %s, and does not retry', async (_case, to) => {
    const { notices, requests, metrics } = await startPipeline();
    const { id, messageId } = await storeRequest(requests, 'Priority rebuild');
    const data = notice('confirmation', id, messageId, { to });
    await notices.send(data);

    const job = await waitForState(notices, data, 'failed');
    expect(job.attemptsMade).toBe(1);
    expect(sink.messages).toHaveLength(0);
    expect(await counter(metrics, 'noticesFailed', { final: 'true' })).toBe(1);
  });

  it('keeps a header injected through the original subject or Message-ID out of the notice', async () => {
    const { notices, requests } = await startPipeline();
    const { id } = await storeRequest(requests, 'Priority rebuild');
    const data = notice('confirmation', id, 'x@evil.example>\r\nBcc: victim2@example.org', {
      originalSubject: 'Priority rebuild\r\nBcc: victim@example.org',
    });
    await notices.send(data);

    const [mail] = await sink.waitFor(1);
    await settle();
    expect(sink.messages).toHaveLength(1);
    expect(mail.rcptTo).toEqual([CUSTOMER]);
    expect(mail.parsed.headers.has('bcc')).toBe(false);
    expect(mail.raw.toString()).not.toMatch(/^Bcc:/im);
    expect(mail.parsed.subject).toBe('Re: Priority rebuild Bcc: victim@example.org');
    expect(mail.parsed.inReplyTo).toBeUndefined(); // not a usable msg-id: no threading rather than a bad header
  });
});

describe('forwarding a message that is not a request', () => {
  it('sends it to FORWARD_TO from our address with the original attached unchanged', async () => {
    const { notices, requests } = await startPipeline();
    const { id, raw } = await storeRequest(requests, 'Question about my invoice', { kind: 'forward', reason: 'not-a-request' });
    await notices.send({ kind: 'forward', requestId: id, to: 'support@provider.example' });

    const [mail] = await sink.waitFor(1);
    expect(mail.mailFrom).toBe(FROM);
    expect(mail.rcptTo).toEqual(['support@provider.example']);
    expect(mail.parsed.subject).toBe('Fwd: Question about my invoice');
    expect(mail.parsed.text).toContain(`Forwarded by rebuild-desk, request ${id}`);
    expect(mail.parsed.headers.get(LOOP_HEADER.toLowerCase())).toBe(id);
    const attached = mail.parsed.attachments.filter((a) => a.contentType === 'message/rfc822');
    expect(attached).toHaveLength(1);
    expect(Buffer.compare(attached[0].content, raw)).toBe(0);
  });
});

describe('without a relay', () => {
  it('writes each notice to the outbox as an .eml file with the same headers', async () => {
    const outboxDir = join(mkdtempSync(join(tmpdir(), 'rebuild-desk-outbox-')), 'outbox'); // created on first use
    outboxes.push(outboxDir);
    const { notices, requests } = await startPipeline({ outboxDir });
    const { id, messageId } = await storeRequest(requests, 'Re: Priority rebuild');
    const data = notice('confirmation', id, messageId);
    await notices.send(data);
    await waitForState(notices, data, 'completed');

    const files = readdirSync(outboxDir);
    expect(files).toHaveLength(1); // no temp file left behind
    expect(files[0]).toMatch(new RegExp(`^\\d{8}T\\d{9}Z-${id}-confirmation\\.eml$`));
    const parsed = await simpleParser(readFileSync(join(outboxDir, files[0])));
    expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value.map((a) => a.address) : null).toEqual([CUSTOMER]);
    expect(parsed.from?.value.map((a) => a.address)).toEqual([FROM]);
    expect(parsed.headers.get('auto-submitted')).toBe('auto-replied');
    expect(parsed.headers.get('x-auto-response-suppress')).toBe('All');
    expect(parsed.inReplyTo).toBe(`<${messageId}>`);
    expect(parsed.subject).toBe('Re: Priority rebuild');
    expect(parsed.headers.get(LOOP_HEADER.toLowerCase())).toBe(id);
    expect(parsed.text).toContain(id);
    expect(parsed.html).toEqual(expect.stringContaining(id));
    expect(sink.messages).toHaveLength(0);
  });
});
