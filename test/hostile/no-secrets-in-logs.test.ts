import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { openServices, type OpenedServices } from '../../src/open-services';
import { startIntake, startWebRole, startWorkers, type Stop } from '../../src/roles';
import { ACCOUNTS_FILE, waitUntil } from '../helpers/desk';
import { freePort, startRedis, testPrefix, type TestRedis } from '../helpers/redis-server';
import { message, sendRaw } from '../helpers/send-mail';
import { WebClient } from '../helpers/web-client';

/**
 * Logs go to log collectors that many people can read: at LOG_LEVEL=info, a request carried through
 * intake, rebuild and notice, and staff logging in (right and wrong), leave no message text, no staff
 * password and no session secret in them.
 */

const BODY_TEXT = 'my-private-words-7f3a9c';
const STAFF_PASSWORD = 'staff-password-e81b2d4c';
const WRONG_PASSWORD = 'wrong-guess-password-55d0a1';
const SESSION_SECRET = 'session-secret-0123456789abcdef0123456789abcdef';

let redis: TestRedis;
let services: OpenedServices | null = null;
const stops: Stop[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await services?.close();
  await redis?.destroy();
});

test('a request and staff logins at LOG_LEVEL=info leave no body text, password or session secret in the logs', async () => {
  const lines: string[] = [];
  const httpPort = await freePort();
  const config = loadConfig({
    REDIS_URL: redis.url,
    QUEUE_PREFIX: testPrefix('leaks'),
    SMTP_PORT: '0',
    HTTP_PORT: String(httpPort),
    ACCOUNTS_FILE,
    STAFF_PASSWORD,
    SESSION_SECRET,
    SIMULATED_REBUILD_MS: '50',
    OUTBOX_DIR: join(tmpdir(), `rebuild-desk-leaks-${Date.now()}`),
    LOG_LEVEL: 'info',
  });
  services = await openServices(config, createLogger(config.LOG_LEVEL, { write: (line: string) => void lines.push(line) }));
  stops.push(await startWorkers(services));
  stops.push(await startWebRole(services, 'serve'));
  const intake = await startIntake(services);
  stops.push(intake.stop);

  const reply = await sendRaw(intake.port, message({ from: 'jdoe@example.com', subject: 'Priority rebuild', body: `Account: jdoe@example.com\n\n${BODY_TEXT}` }), { from: 'jdoe@example.com', to: ['webmaster@localhost'] });
  const notRequest = await sendRaw(intake.port, message({ from: 'someone@elsewhere.example', subject: 'Invoice', body: BODY_TEXT }), { from: 'someone@elsewhere.example', to: ['webmaster@localhost'] });
  await waitUntil(async () => (await services!.rebuilds.status('jdoe@example.com')).state === 'done', 10_000, 'jdoe rebuilt');
  await waitUntil(() => lines.some((l) => l.includes('"kind":"completed"') && l.includes('notice sent')), 10_000, 'completion notice sent');

  const base = `http://127.0.0.1:${httpPort}`;
  expect((await new WebClient(base).login('admin', WRONG_PASSWORD)).status).not.toBe(303);
  const staff = new WebClient(base);
  expect((await staff.login('admin', STAFF_PASSWORD)).headers.get('location')).toBe('/review');
  expect((await staff.get(`/review/${notRequest.requestId}`)).status).toBe(200);

  const log = lines.join('');
  expect(lines.length).toBeGreaterThan(5); // it did log, at info
  expect(log).toContain(reply.requestId!);
  for (const secret of [BODY_TEXT, STAFF_PASSWORD, WRONG_PASSWORD, SESSION_SECRET]) expect(log).not.toContain(secret);
  // Nor the session cookie staff now hold.
  for (const value of staff.cookies.values()) expect(log).not.toContain(value);
  console.log(`[no-leaks] logLines=${lines.length} secretsFound=0`);
});
