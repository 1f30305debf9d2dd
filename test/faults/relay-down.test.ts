import { LOOP_HEADER } from '../../src/intake/classify';
import { startRedis, type TestRedis } from '../helpers/redis-server';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';
import { ACCOUNTS, botEnv, deliver, killAllBots, makeLoad, sleep, startBot, summary } from './fault-kit';

/**
 * SPEC §3: outbound notices are "retried with backoff while the relay is down, sent once". The relay is
 * down for 30 s while requests come in and their rebuilds finish; afterwards every notice arrives, once.
 */

const OUTAGE_MS = 30_000;

let redis: TestRedis;
let sink: SmtpSink;

beforeAll(async () => {
  redis = await startRedis();
  sink = await startSmtpSink();
});

afterAll(async () => {
  await killAllBots();
  await sink?.close();
  await redis?.destroy();
});

test('the relay down for 30 s: every notice is delivered once afterwards', async () => {
  // NOTICE_RETRY_DELAY_MS 1 s: retries at 1, 3, 7, 15, 31 s… so the test waits seconds, not minutes.
  const env = await botEnv(redis.url, { OUTBOUND_SMTP_URL: sink.url, NOTICE_RETRY_DELAY_MS: '1000' });
  const serve = await startBot('serve', env);
  await sink.stop();
  const down = Date.now();

  // One request for each example account (a confirmation, then a completion notice each) and 5
  // messages that are not requests (review items, no notice).
  const load = makeLoad(40, `relay-${Date.now()}`);
  const requests = ACCOUNTS.map((account) => load.find((m) => m.from === account)!);
  const messages = [...requests, ...load.filter((m) => !ACCOUNTS.includes(m.from)).slice(0, 5)];
  const stats = await deliver(Number(env.SMTP_PORT), messages, { concurrency: 4 });
  expect(stats.accepted.size).toBe(messages.length);
  const expected = ACCOUNTS.length * 2;

  await sleep(Math.max(0, OUTAGE_MS - (Date.now() - down)));
  expect(sink.messages).toHaveLength(0);
  await sink.start();
  const back = Date.now();
  await sink.waitFor(expected, 60_000);
  const deliveredWithinMs = Date.now() - back;
  await sleep(3_000); // time for a second copy, if one were coming

  const keys = sink.messages.map((m) => `${String(m.parsed.headers.get(LOOP_HEADER.toLowerCase()))} ${String(m.parsed.headers.get('auto-submitted'))}`);
  console.log(
    summary('relay-down', {
      outageSeconds: OUTAGE_MS / 1000,
      messagesAccepted: stats.accepted.size,
      noticesExpected: expected,
      noticesDelivered: sink.messages.length,
      distinctNotices: new Set(keys).size,
      lastDeliveredSecondsAfterRelayBack: (deliveredWithinMs / 1000).toFixed(1),
    }),
  );
  expect(sink.messages).toHaveLength(expected);
  expect(new Set(keys).size).toBe(expected);
  for (const account of ACCOUNTS) {
    const to = sink.messages.filter((m) => m.rcptTo.join() === account).map((m) => String(m.parsed.headers.get('auto-submitted'))).sort();
    expect(to).toEqual(['auto-generated', 'auto-replied']); // its completion notice and its confirmation
  }
  for (const m of sink.messages) expect(m.mailFrom).toBe('');
  expect(serve.alive()).toBe(true);
}, 150_000);
