import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { startRedis, type TestRedis } from '../helpers/redis-server';
import { recorded } from '../helpers/desk';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';
import { botEnv, deliver, killAllBots, makeLoad, recordFileOf, sleep, startBot, summary } from './fault-kit';

/**
 * SPEC §3: "a worker that dies mid-rebuild must not leave the account stuck". A worker process is
 * killed (SIGKILL, with the rebuild command it is running) between the command's start and its end;
 * another worker takes the job over once its lock expires, the account ends `done`, and the customer
 * gets one completion notice.
 */

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

test('a worker killed mid-rebuild: another finishes it, the account is done, one completion notice', async () => {
  const env = await botEnv(redis.url, { OUTBOUND_SMTP_URL: sink.url, NOTICE_RETRY_DELAY_MS: '500' });
  const file = recordFileOf(env);
  env.REBUILD_COMMAND = JSON.stringify(['sh', '-c', 'echo "start $0" >> "$1"; sleep 4; echo "end $0" >> "$1"', '{account}', file]);
  const [request] = makeLoad(1, `worker-kill-${Date.now()}`); // a request for jdoe@example.com
  await startBot('intake', env);
  const first = await startBot('worker', env);
  const stats = await deliver(Number(env.SMTP_PORT), [request], { concurrency: 1 });
  expect(stats.accepted.size).toBe(1);

  // The confirmation goes out first: this test kills the rebuild, not a notice being sent (a notice
  // job whose worker died waits for its own lock, 30 s, before another worker sends it).
  const confirmations = () => sink.messages.filter((m) => m.parsed.headers.get('auto-submitted') === 'auto-replied' && m.rcptTo.includes('jdoe@example.com'));
  const deadline = Date.now() + 20_000;
  while (!recorded(file).includes('start jdoe@example.com') || confirmations().length === 0) {
    if (Date.now() > deadline) throw new Error(`the rebuild never started:\n${first.output()}`);
    await sleep(20);
  }
  await first.kill('SIGKILL');
  expect(recorded(file)).toEqual(['start jdoe@example.com']); // killed between start and end

  const second = await startBot('worker', env);
  const finished = Date.now() + 30_000;
  while (!recorded(file).includes('end jdoe@example.com')) {
    if (Date.now() > finished) throw new Error(`the rebuild was never taken over:\n${second.output()}`);
    await sleep(100);
  }
  const completed = () => sink.messages.filter((m) => m.parsed.headers.get('auto-submitted') === 'auto-generated' && m.rcptTo.includes('jdoe@example.com'));
  const noticeDeadline = Date.now() + 20_000;
  while (completed().length === 0 && Date.now() < noticeDeadline) await sleep(100);
  await sleep(3_000); // time for a second notice, if one were coming

  const status = JSON.parse(execFileSync(process.execPath, [resolve(__dirname, '../../dist/cli.js'), 'status', 'jdoe@example.com'], { env }).toString()) as { state: string };
  console.log(
    summary('worker-killed', {
      rebuildStarts: recorded(file).filter((l) => l.startsWith('start')).length,
      rebuildEnds: recorded(file).filter((l) => l.startsWith('end')).length,
      finalState: status.state,
      completionNotices: completed().length,
      confirmations: confirmations().length,
    }),
  );
  expect(recorded(file)).toEqual(['start jdoe@example.com', 'start jdoe@example.com', 'end jdoe@example.com']);
  expect(status.state).toBe('done');
  expect(completed()).toHaveLength(1);
  expect(confirmations()).toHaveLength(1);
  expect(second.alive()).toBe(true);
}, 90_000);
