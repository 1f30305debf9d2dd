import { parseAuthenticationResults } from '../../src/intake/verify';
import { startDesk, type Desk } from '../helpers/desk';
import { startRedis, type TestRedis } from '../helpers/redis-server';
import { message, sendRaw } from '../helpers/send-mail';

/**
 * AUTH_MODE=trust-header: the provider's MTA checked the message and wrote its verdict on top as
 * `Authentication-Results: mx.provider.test; …`. Only that topmost header is believed (RFC 8601 §5).
 */

const OURS = 'mx.provider.test';
const to = ['webmaster@localhost'];

let redis: TestRedis;
let desk: Desk;

beforeAll(async () => {
  redis = await startRedis();
  desk = await startDesk(redis.url, { AUTH_MODE: 'trust-header', TRUSTED_AUTHSERV_ID: OURS }, { workers: false });
});

afterAll(async () => {
  await desk?.stop();
  await redis?.destroy();
});

/** A request with header lines put on top, as an MTA prepends them, and others among the sender's own. */
function request(from: string, account: string, top: string[], senderHeaders: Record<string, string> = {}): string {
  return top.map((h) => `${h}\r\n`).join('') + message({ from, subject: 'Priority rebuild', body: `Account: ${account}`, headers: senderHeaders });
}

async function noticesFor(requestId: string): Promise<number> {
  const jobs = await desk.services.notices.queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized']);
  return jobs.filter((job) => job?.data.requestId === requestId).length;
}

async function send(from: string, raw: string) {
  const reply = await sendRaw(desk.smtpPort, raw, { from, to });
  return { id: reply.requestId!, request: await desk.services.requests.get(reply.requestId!) };
}

describe('AUTH_MODE=trust-header', () => {
  test("our MTA's topmost header with dmarc=pass makes the request authentic: prioritized", async () => {
    const raw = request('jdoe@example.com', 'jdoe@example.com', [
      `Authentication-Results: ${OURS};\r\n dkim=pass header.d=example.com;\r\n spf=pass smtp.mailfrom=example.com;\r\n dmarc=pass (p=REJECT) header.from=example.com`,
      'Received: from mail.example.com (mail.example.com [192.0.2.10]) by mx.provider.test',
    ]);
    const { id, request: stored } = await send('jdoe@example.com', raw);
    expect(stored).toMatchObject({ decision: { kind: 'prioritize', account: 'jdoe@example.com' } });
    expect(stored!.auth).toContain('dmarc=pass');
    expect(await noticesFor(id)).toBe(1);
  });

  test('dmarc=fail from our MTA is forged: review, no notice, no rebuild', async () => {
    const raw = request('alice@example.com', 'alice@example.com', [`Authentication-Results: ${OURS}; dkim=fail; spf=fail; dmarc=fail header.from=example.com`]);
    const { id, request: stored } = await send('alice@example.com', raw);
    expect(stored).toMatchObject({ reason: 'forged', decision: { kind: 'review', reason: 'forged', reply: null } });
    expect(await noticesFor(id)).toBe(0);
    expect(await desk.services.rebuilds.status('alice@example.com')).toMatchObject({ state: 'none' });
  });

  test('a dmarc=pass the sender wrote below ours is ignored: forged', async () => {
    const raw = request('bob@example.com', 'bob@example.com', [`Authentication-Results: ${OURS}; spf=none; dmarc=none header.from=example.com`], {
      'Authentication-Results': `${OURS}; dmarc=pass header.from=example.com`,
    });
    const { id, request: stored } = await send('bob@example.com', raw);
    expect(stored).toMatchObject({ reason: 'forged' });
    expect(await noticesFor(id)).toBe(0);
    expect(await desk.services.rebuilds.status('bob@example.com')).toMatchObject({ state: 'none' });
  });

  test('a message our MTA did not mark, carrying only the sender\'s own dmarc=pass, is forged', async () => {
    // The first Authentication-Results is the sender's: it names our authserv-id, but our MTA would
    // have put its own above it. Without ours on top, no header is believed.
    const raw = request('carol@example.com', 'carol@example.com', ['Authentication-Results: mx.other.example; dmarc=pass header.from=example.com'], {
      'Authentication-Results': `${OURS}; dmarc=pass header.from=example.com`,
    });
    const { id, request: stored } = await send('carol@example.com', raw);
    expect(stored).toMatchObject({ reason: 'forged' });
    expect(stored!.auth).toMatch(/not mx\.provider\.test: ignored/);
    expect(await noticesFor(id)).toBe(0);
    expect(await desk.services.rebuilds.status('carol@example.com')).toMatchObject({ state: 'none' });
  });

  test('a pass from another authserv-id is ignored: forged', async () => {
    const raw = request('dave@example.com', 'dave@example.com', ['Authentication-Results: mx.provider.test.evil.example; dmarc=pass header.from=example.com']);
    const { request: stored } = await send('dave@example.com', raw);
    expect(stored).toMatchObject({ reason: 'forged' });
  });

  test('no Authentication-Results at all is forged', async () => {
    const { request: stored } = await send('erin@example.com', request('erin@example.com', 'erin@example.com', []));
    expect(stored).toMatchObject({ reason: 'forged' });
    expect(stored!.auth).toBe(`no Authentication-Results from ${OURS}`);
  });

  test('a dmarc=pass for another From domain vouches for nothing', async () => {
    const raw = request('frank@example.com', 'frank@example.com', [`Authentication-Results: ${OURS}; dmarc=pass header.from=attacker.example`]);
    const { request: stored } = await send('frank@example.com', raw);
    expect(stored).toMatchObject({ reason: 'forged' });
  });
});

describe('reading Authentication-Results (RFC 8601)', () => {
  test.each([
    ['mx.provider.test; dmarc=pass header.from=example.com', 'mx.provider.test', 'dmarc', 'pass'],
    ['mx.provider.test 1; dkim=pass (good signature) header.d=example.com; dmarc=pass (p=NONE)', 'mx.provider.test', 'dmarc', 'pass'],
    ['(comment) mx.provider.test; dmarc=fail', 'mx.provider.test', 'dmarc', 'fail'],
    ['mx.provider.test; none', 'mx.provider.test', undefined, undefined],
  ])('%s', (value, id, method, result) => {
    const parsed = parseAuthenticationResults(value);
    expect(parsed.authservId).toBe(id);
    const dmarc = parsed.results.find((r) => r.method === 'dmarc');
    expect(dmarc?.method).toBe(method);
    expect(dmarc?.result).toBe(result);
  });
});
