import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildWebApp } from '../../src/web/app';
import { StaffStore } from '../../src/web/staff-store';
import { startRedis, type TestRedis } from '../helpers/redis-server';
import { accountLookup, createReviewItem, reviewDesk, type ReviewDesk } from '../helpers/review-desk';
import { WebClient } from '../helpers/web-client';

const ADMIN_PASSWORD = 'correct horse battery staple';

let server: TestRedis;
let desk: ReviewDesk;
let app: FastifyInstance;
let base: string;
let clients = 0;

/** Each client comes from its own address, so the failed-login limit of one test does not lock out the next. */
const newClient = () => new WebClient(base, `198.51.100.${++clients}`);

async function loggedIn(): Promise<WebClient> {
  const client = newClient();
  const response = await client.login('admin', ADMIN_PASSWORD);
  expect(response.status).toBe(303);
  return client;
}

async function listen(instance: FastifyInstance): Promise<string> {
  await instance.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(instance.server.address() as AddressInfo).port}`;
}

/** Cheap hashing parameters for logins made by the tests themselves; verification reads them from the stored hash. */
const staff = () => new StaffStore(desk.redis, desk.config.QUEUE_PREFIX, { N: 1024, r: 8, p: 1 });

const unentitled = () => createReviewItem(desk.services, { reason: 'not-entitled', account: 'alice@example.com', from: 'friend@elsewhere.test' });

beforeAll(async () => {
  server = await startRedis();
  desk = await reviewDesk(server.url, { STAFF_PASSWORD: ADMIN_PASSWORD });
  // The test client poses as many client addresses behind a proxy (X-Forwarded-For).
  app = await buildWebApp(desk.services, { trustProxy: true });
  base = await listen(app);
});

afterAll(async () => {
  await app?.close();
  await desk?.close();
  await server?.destroy();
});

describe('logging in', () => {
  test('the right password opens a session in an HttpOnly, SameSite=Strict, signed cookie and lands on the review list', async () => {
    const client = newClient();
    const response = await client.login('admin', ADMIN_PASSWORD);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/review');
    const setCookie = response.headers.getSetCookie().find((c) => c.startsWith('rd_session='))!;
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(setCookie).toMatch(/Max-Age=28800/i);
    expect(setCookie.split(';')[0]).toMatch(/^rd_session=[\w-]+\.[\w+/=-]+$/); // value.signature

    const page = await client.get('/review');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<h1>Review');
  });

  test('a wrong password and an unknown name get the same answer, so the form does not reveal who has a login', async () => {
    const wrong = await newClient().login('admin', 'not the password at all');
    const unknown = await newClient().login('nobody', 'not the password at all');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const text = (html: string) => /role="alert">([^<]*)</.exec(html)?.[1];
    expect(text(await wrong.text())).toBe('Wrong name or password.');
    expect(text(await unknown.text())).toBe('Wrong name or password.');
  });

  test('after five failed logins from one address, even the right password is refused there for a while', async () => {
    await staff().setPassword('ivan', 'ivan has a long password');
    const client = newClient();
    for (let i = 0; i < 5; i++) expect((await client.login(i % 2 ? 'ivan' : 'nobody', `guess number ${i}!`)).status).toBe(401);
    const blocked = await client.login('ivan', 'ivan has a long password');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(800);
    expect(blocked.headers.getSetCookie().some((c) => c.startsWith('rd_session='))).toBe(false);
    // From another address the same login works: the address was limited, not the name.
    expect((await newClient().login('ivan', 'ivan has a long password')).status).toBe(303);
  });

  test('five failed logins for one name from many addresses lock that name, not the others', async () => {
    await staff().setPassword('ana', 'ana has a long password');
    for (let i = 0; i < 5; i++) expect((await newClient().login('ana', `guess number ${i}!`)).status).toBe(401);
    expect((await newClient().login('ana', 'ana has a long password')).status).toBe(429);
    expect((await newClient().login('admin', ADMIN_PASSWORD)).status).toBe(303);
  });

  test('a login form posted without its own token (from another site) is refused', async () => {
    const client = newClient();
    await client.get('/login');
    const response = await client.post('/login', { name: 'admin', password: ADMIN_PASSWORD, _csrf: 'forged-token' });
    expect(response.status).toBe(403);
    expect(response.headers.getSetCookie().some((c) => c.startsWith('rd_session='))).toBe(false);
  });

  test('after login the browser goes back to the page it asked for, but never to another site', async () => {
    expect((await newClient().login('admin', ADMIN_PASSWORD, '/progress')).headers.get('location')).toBe('/progress');
    expect((await newClient().login('admin', ADMIN_PASSWORD, '//evil.example/x')).headers.get('location')).toBe('/review');
    expect((await newClient().login('admin', ADMIN_PASSWORD, '/\\evil.example')).headers.get('location')).toBe('/review');
  });

  test('logging in again gives a new session id and ends the old one (no session fixation)', async () => {
    const client = await loggedIn();
    const first = client.cookies.get('rd_session')!;
    await client.login('admin', ADMIN_PASSWORD);
    const second = client.cookies.get('rd_session')!;
    expect(second).not.toBe(first);
    const replay = new WebClient(base, '198.51.100.250');
    replay.cookies.set('rd_session', first);
    expect((await replay.get('/review')).status).toBe(303);
  });

  test('logging out ends the session on the server: the old cookie no longer opens any page', async () => {
    const client = await loggedIn();
    const cookie = client.cookies.get('rd_session')!;
    const out = await client.post('/logout', { _csrf: await client.csrfFrom('/review') });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/login');
    const replay = new WebClient(base, '198.51.100.251');
    replay.cookies.set('rd_session', cookie);
    const page = await replay.get('/review');
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toMatch(/^\/login/);
  });

  test('a cookie with a forged signature is not a session', async () => {
    const client = await loggedIn();
    const [id] = client.cookies.get('rd_session')!.split('.');
    client.cookies.set('rd_session', `${id}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`);
    expect((await client.get('/review')).status).toBe(303);
  });
});

describe('without a login', () => {
  test('every page redirects to the login form, remembering where it was going', async () => {
    const id = await unentitled();
    const client = newClient();
    for (const path of ['/', '/review', `/review/${id}`, `/review/${id}/raw`, '/progress', '/status?account=alice@example.com', '/admin/queues', '/admin/queues/static/js/x.js', '/no-such-page']) {
      const response = await client.get(path);
      expect({ path, status: response.status }).toEqual({ path, status: 303 });
      expect(response.headers.get('location')).toBe(`/login?next=${encodeURIComponent(path)}`);
    }
  });

  test('every POST is refused and changes nothing', async () => {
    const id = await unentitled();
    const client = newClient();
    for (const [path, form] of [
      [`/review/${id}/approve`, {}],
      [`/review/${id}/reject`, { message: 'no' }],
      [`/review/${id}/reassign`, { account: 'bob@example.com' }],
      ['/logout', {}],
    ] as const) {
      expect((await client.post(path, form)).status).toBe(401);
    }
    expect((await client.request('PUT', '/admin/queues/api/queues/rebuild/pause')).status).toBe(401);
    expect((await desk.services.requests.get(id))?.review).toBe('open');
    expect(await desk.services.rebuilds.status('alice@example.com')).toMatchObject({ state: 'none' });
    expect(await desk.services.rebuilds.queue.isPaused()).toBe(false);
  });

  test('the probes and the metrics answer', async () => {
    const client = newClient();
    expect((await client.get('/healthz')).status).toBe(200);
    expect((await client.get('/readyz')).status).toBe(200);
    const metrics = await client.get('/metrics');
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('rebuild_desk_');
  });
});

describe('forged requests (CSRF)', () => {
  test('an approve with a valid session but no token, or a wrong one, is refused and changes nothing', async () => {
    const id = await createReviewItem(desk.services, { reason: 'not-entitled', account: 'dan@example.com', from: 'someone@elsewhere.test' });
    const client = await loggedIn();
    expect((await client.post(`/review/${id}/approve`, {})).status).toBe(403);
    expect((await client.post(`/review/${id}/approve`, { _csrf: 'x'.repeat(43) })).status).toBe(403);
    expect((await client.post(`/review/${id}/reject`, { _csrf: await new WebClient(base).csrfFrom('/login') })).status).toBe(403);
    expect((await desk.services.requests.get(id))?.review).toBe('open');
    expect(await desk.services.rebuilds.status('dan@example.com')).toMatchObject({ state: 'none' });
    expect(await desk.services.notices.queue.getJob(`${id}-confirmation`)).toBeUndefined();
  });

  test('another session’s token does not work: tokens belong to their session', async () => {
    const id = await unentitled();
    const mine = await loggedIn();
    const theirs = await loggedIn();
    expect((await mine.post(`/review/${id}/approve`, { _csrf: await theirs.csrfFrom('/review') })).status).toBe(403);
    expect((await desk.services.requests.get(id))?.review).toBe('open');
  });

  test('the queue dashboard’s API refuses a write that does not come from this site', async () => {
    const client = await loggedIn();
    expect((await client.request('PUT', '/admin/queues/api/queues/notices/pause')).status).toBe(403);
    expect((await client.request('PUT', '/admin/queues/api/queues/notices/pause', { headers: { origin: 'https://evil.example' } })).status).toBe(403);
    expect(await desk.services.notices.queue.isPaused()).toBe(false);
    const own = await client.request('PUT', '/admin/queues/api/queues/notices/pause', { headers: { origin: base } });
    expect(own.status).toBe(200);
    expect(await desk.services.notices.queue.isPaused()).toBe(true);
    await desk.services.notices.queue.resume();
  });
});

describe('deciding review items', () => {
  test('approving puts the account at the front and queues a confirmation to the sender', async () => {
    const id = await createReviewItem(desk.services, { reason: 'not-entitled', account: 'carol@example.com', from: 'carols.friend@elsewhere.test' });
    const client = await loggedIn();
    const response = await client.post(`/review/${id}/approve`, { _csrf: await client.csrfFrom(`/review/${id}`) });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe(`/review/${id}?done=approved`);

    expect(await desk.services.rebuilds.status('carol@example.com')).toMatchObject({ state: 'prioritized' });
    const job = await desk.services.notices.queue.getJob(`${id}-confirmation`);
    expect(job?.data).toMatchObject({ kind: 'confirmation', requestId: id, to: 'carols.friend@elsewhere.test', account: 'carol@example.com', originalSubject: 'Priority rebuild' });
    expect(job?.data).toHaveProperty('position');
    const record = await desk.services.requests.get(id);
    expect(record?.review).toBe('approved');
    const history = await desk.services.requests.history(id);
    expect(history.map((h) => [h.by, h.action])).toEqual([
      ['bot', 'received'],
      ['admin', 'approved'],
      ['admin', 'queued'],
    ]);
    const page = await (await client.get(`/review/${id}?done=approved`)).text();
    expect(page).toContain('Approved: the account is at the front');
    expect(page).toMatch(/class="tag prioritized"/);
  });

  test('rejecting with a message queues a rejected notice carrying that message', async () => {
    const id = await createReviewItem(desk.services, { reason: 'unknown-account', account: 'zed@example.com', from: 'zed@elsewhere.test' });
    const client = await loggedIn();
    const message = 'We could not find that account. Please write from the address on file.';
    const response = await client.post(`/review/${id}/reject`, { _csrf: await client.csrfFrom(`/review/${id}`), message });
    expect(response.headers.get('location')).toBe(`/review/${id}?done=rejected`);
    const job = await desk.services.notices.queue.getJob(`${id}-rejected`);
    expect(job?.data).toMatchObject({ kind: 'rejected', to: 'zed@elsewhere.test', staffMessage: message });
    expect((await desk.services.requests.get(id))?.review).toBe('rejected');
    expect((await desk.services.requests.history(id)).at(-1)).toMatchObject({ by: 'admin', action: 'rejected' });
  });

  test('rejecting a forged request sends nothing to the forged address', async () => {
    const id = await createReviewItem(desk.services, { reason: 'forged', account: 'bob@example.com', from: 'bob@example.com' });
    const client = await loggedIn();
    await client.post(`/review/${id}/reject`, { _csrf: await client.csrfFrom(`/review/${id}`), message: 'not you' });
    expect((await desk.services.requests.get(id))?.review).toBe('rejected');
    expect(await desk.services.notices.queue.getJob(`${id}-rejected`)).toBeUndefined();
    expect((await desk.services.requests.history(id)).at(-1)?.detail).toContain('no reply');
  });

  test('reassigning approves the request for the named account and records the change', async () => {
    const id = await createReviewItem(desk.services, { reason: 'ambiguous', account: null, from: 'erin@example.com', text: 'Account: erin or dan?' });
    const client = await loggedIn();
    const token = await client.csrfFrom(`/review/${id}`);
    const unknown = await client.post(`/review/${id}/reassign`, { _csrf: token, account: 'ghost@example.com' });
    expect(unknown.headers.get('location')).toBe(`/review/${id}?error=unknown-account`);
    expect((await desk.services.requests.get(id))?.review).toBe('open');

    const response = await client.post(`/review/${id}/reassign`, { _csrf: token, account: ' Erin@Example.com ' });
    expect(response.headers.get('location')).toBe(`/review/${id}?done=reassigned`);
    const record = await desk.services.requests.get(id);
    expect(record).toMatchObject({ review: 'approved', account: 'erin@example.com' });
    expect(await desk.services.rebuilds.status('erin@example.com')).toMatchObject({ state: 'prioritized' });
    expect(await desk.services.requests.requestIdsForAccount('erin@example.com')).toContain(id);
    expect((await desk.services.requests.history(id)).map((h) => h.action)).toEqual(['received', 'reassigned', 'queued']);
  });

  test('a second decision on the same item is refused and the first one stands', async () => {
    const id = await createReviewItem(desk.services, { reason: 'not-entitled', account: 'jdoe@example.com', from: 'jd@elsewhere.test' });
    const first = await loggedIn();
    const second = await loggedIn();
    const secondToken = await second.csrfFrom(`/review/${id}`); // the page was open in two browsers
    await first.post(`/review/${id}/approve`, { _csrf: await first.csrfFrom(`/review/${id}`) });

    const again = await second.post(`/review/${id}/approve`, { _csrf: secondToken });
    expect(again.headers.get('location')).toBe(`/review/${id}?error=not-open`);
    const reject = await second.post(`/review/${id}/reject`, { _csrf: secondToken, message: 'no' });
    expect(reject.headers.get('location')).toBe(`/review/${id}?error=not-open`);

    expect((await desk.services.requests.get(id))?.review).toBe('approved');
    expect(await desk.services.notices.queue.getJob(`${id}-rejected`)).toBeUndefined();
    expect((await desk.services.requests.history(id)).filter((h) => h.action === 'approved')).toHaveLength(1);
    expect(await (await second.get(`/review/${id}?error=not-open`)).text()).toContain('the first decision stands');
  });

  test('the raw message downloads as an .eml attachment, byte for byte', async () => {
    const id = await unentitled();
    const client = await loggedIn();
    const response = await client.get(`/review/${id}/raw`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('message/rfc822');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="${id}.eml"`);
    expect(Buffer.from(await response.arrayBuffer()).equals((await desk.services.requests.getRaw(id))!)).toBe(true);
  });

  test('an id that is not a request id never reaches Redis', async () => {
    const client = await loggedIn();
    expect((await client.get('/review/R-ABC:raw')).status).toBe(400);
    expect((await client.get('/review/R-NOPE99')).status).toBe(404);
  });
});

describe('pages', () => {
  test('text from an email is shown as text, never as markup', async () => {
    const id = await createReviewItem(desk.services, {
      reason: 'not-entitled',
      account: 'bob@example.com',
      from: 'x@elsewhere.test',
      subject: 'Priority rebuild <script>alert(1)</script>',
      text: '<img src=x onerror=alert(2)>',
    });
    const client = await loggedIn();
    const item = await (await client.get(`/review/${id}`)).text();
    expect(item).not.toContain('<script>alert(1)');
    expect(item).not.toContain('<img src=x');
    expect(item).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    const list = await (await client.get('/review')).text();
    expect(list).not.toContain('<script>alert(1)');
  });

  test('the review list filters by reason and searches accounts and senders, newest first', async () => {
    const older = await createReviewItem(desk.services, { reason: 'no-account', account: null, from: 'searchme@elsewhere.test', received: Date.now() - 60_000 });
    const newer = await createReviewItem(desk.services, { reason: 'no-account', account: null, from: 'searchme@elsewhere.test' });
    const other = await createReviewItem(desk.services, { reason: 'not-entitled', account: 'bob@example.com', from: 'searchme@elsewhere.test' });
    const client = await loggedIn();
    const page = await (await client.get('/review?reason=no-account&q=SEARCHME')).text();
    expect(page).toContain(newer);
    expect(page).toContain(older);
    expect(page).not.toContain(other);
    expect(page.indexOf(newer)).toBeLessThan(page.indexOf(older));
    expect(page).toMatch(/<option value="no-account" selected>/);
  });

  test('the progress page shows the accounts per state and the rate', async () => {
    await desk.services.rebuilds.addBacklog(['backlog1@example.com', 'backlog2@example.com']);
    const client = await loggedIn();
    const page = await (await client.get('/progress')).text();
    expect(page).toContain('Rebuilds per minute');
    expect(page).toMatch(/queued \(backlog\)<\/div><div class="n">\d+/);
    expect(page).toContain('unknown until rebuilds finish');
  });

  test('the status page shows an account’s state and the requests that named it', async () => {
    const id = await createReviewItem(desk.services, { reason: 'not-entitled', account: 'alice@example.com', from: 'status@elsewhere.test' });
    const client = await loggedIn();
    const page = await (await client.get('/status?account=ALICE@example.com')).text();
    expect(page).toMatch(/id="account-state">(none|prioritized)</);
    expect(page).toContain(`/review/${id}`);
  });

  test('the queue dashboard renders for a logged-in staff member', async () => {
    const client = await loggedIn();
    const page = await client.get('/admin/queues');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('static/js/main');
    const queues = await client.get('/admin/queues/api/queues');
    expect(queues.status).toBe(200);
    const names = ((await queues.json()) as { queues: { name: string }[] }).queues.map((q) => q.name).sort();
    expect(names).toEqual(['notices', 'rebuild']);
  });

  test('pages carry security headers, with a strict policy on our pages and a workable one on the dashboard', async () => {
    const client = await loggedIn();
    const page = await client.get('/review');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toMatch(/style-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(page.headers.get('referrer-policy')).toBe('same-origin');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const board = (await client.get('/admin/queues')).headers.get('content-security-policy') ?? '';
    expect(board).toContain("script-src 'self'");
    expect(board).toContain("style-src 'self' 'unsafe-inline'");
    expect(board).toContain("base-uri 'self'");
  });

  test('metrics report the accounts per state from the queue', async () => {
    await desk.services.rebuilds.prioritize('metrics@example.com', 'staff');
    const text = await (await newClient().get('/metrics')).text();
    expect(text).toMatch(/rebuild_desk_accounts\{state="prioritized"\} [1-9]/);
  });
});

describe('readiness', () => {
  let ownServer: TestRedis;
  let ownDesk: ReviewDesk;
  let ownApp: FastifyInstance;
  let ownBase: string;

  beforeAll(async () => {
    ownServer = await startRedis();
    ownDesk = await reviewDesk(ownServer.url, { STAFF_PASSWORD: ADMIN_PASSWORD });
    ownApp = await buildWebApp(ownDesk.services);
    ownBase = await listen(ownApp);
  });

  afterAll(async () => {
    await ownApp?.close();
    await ownDesk?.close();
    await ownServer?.destroy();
  });

  test('/readyz says 503 once Redis stops answering, while /healthz still says the process is up', async () => {
    expect((await fetch(`${ownBase}/readyz`)).status).toBe(200);
    await ownServer.stop();
    const started = Date.now();
    const ready = await fetch(`${ownBase}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toContain('redis');
    expect(Date.now() - started).toBeLessThan(3_000);
    expect((await fetch(`${ownBase}/healthz`)).status).toBe(200);
  });
});

describe('start-up', () => {
  test('with no staff login at all, the web refuses to start and says how to create one', async () => {
    const empty = await reviewDesk(server.url);
    try {
      await expect(buildWebApp(empty.services)).rejects.toThrow(/rebuild-desk staff add NAME.*STAFF_PASSWORD/s);
    } finally {
      await empty.close();
    }
  });

  test('/readyz says 503 while the account directory is empty', async () => {
    const empty = await reviewDesk(server.url, { STAFF_PASSWORD: ADMIN_PASSWORD }, accountLookup({}));
    const instance = await buildWebApp(empty.services);
    try {
      const response = await fetch(`${await listen(instance)}/readyz`);
      expect(response.status).toBe(503);
      expect(await response.text()).toContain('accounts');
    } finally {
      await instance.close();
      await empty.close();
    }
  });

  test('web processes sharing a Redis agree on the cookie key, so a session works on each', async () => {
    const client = await loggedIn();
    const other = await buildWebApp(desk.services, { trustProxy: true });
    const otherBase = await listen(other);
    try {
      const elsewhere = new WebClient(otherBase, client.clientIp);
      for (const [k, v] of client.cookies) elsewhere.cookies.set(k, v);
      expect((await elsewhere.get('/review')).status).toBe(200);
    } finally {
      await other.close();
    }
  });
});
