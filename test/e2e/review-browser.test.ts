import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildWebApp } from '../../src/web/app';
import { startRedis, type TestRedis } from '../helpers/redis-server';
import { createReviewItem, reviewDesk, type ReviewDesk } from '../helpers/review-desk';

/**
 * A staff member's afternoon in a real browser: log in, find a customer's request, approve it, see the
 * account at the front of the queue. `UPDATE_SCREENSHOTS=1` also refreshes docs/review-page.png.
 */

const CHROMIUM = '/usr/bin/chromium';
const PASSWORD = 'correct horse battery staple';

let server: TestRedis;
let desk: ReviewDesk;
let app: FastifyInstance;
let browser: Browser;
let base: string;
/** Content-Security-Policy reports from the browser console: a policy that breaks a page shows here. */
const violations: string[] = [];

const minutesAgo = (m: number) => Date.now() - m * 60_000;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  server = await startRedis();
  desk = await reviewDesk(server.url, { STAFF_PASSWORD: PASSWORD });
  const items = [
    { reason: 'forged', account: 'jdoe@example.com', from: 'jdoe@example.com', subject: 'PRIORITY REBUILD!!! urgent', received: minutesAgo(95) },
    { reason: 'no-account', account: null, from: 'm.keller@web.example', subject: 'Re: Priority rebuild', received: minutesAgo(71) },
    { reason: 'ambiguous', account: null, from: 'erin@example.com', subject: 'Priority rebuild for erin and dan', received: minutesAgo(48) },
    { reason: 'unknown-account', account: 'caroline@example.com', from: 'caroline.m@outlook.test', subject: 'priority rebuild - caroline', received: minutesAgo(33) },
    { reason: 'not-a-request', account: null, from: 'accounts@supplier.test', subject: 'Invoice 2026-1184 overdue', received: minutesAgo(20) },
    { reason: 'not-entitled', account: 'alice@example.com', from: 'alice.work@acme-corp.test', subject: 'Fwd: Priority rebuild', received: minutesAgo(6) },
  ] as const;
  for (const item of items) await createReviewItem(desk.services, item);
  app = await buildWebApp(desk.services);
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await desk?.close();
  await server?.destroy();
});

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  // A step that hangs fails with its own name instead of the test's 30 s timeout.
  page.setDefaultTimeout(8_000);
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text()) && !/fonts\.googleapis/.test(message.text())) violations.push(message.text());
  });
  return page;
}

async function logIn(page: Page, path = '/review'): Promise<void> {
  await page.goto(base + path);
  await page.waitForURL(/\/login/);
  await page.fill('input[name=name]', 'admin');
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(base + path);
}

test('the review list reads well (screenshot for the docs)', async () => {
  const page = await newPage();
  await logIn(page);
  expect(await page.locator('tbody tr').count()).toBe(6);
  if (process.env.UPDATE_SCREENSHOTS) await page.screenshot({ path: resolve(__dirname, '../../docs/review-page.png'), fullPage: true });
  await page.close();
});

test('a staff member finds an unentitled request, approves it and sees the account prioritized', async () => {
  const page = await newPage();
  await logIn(page);
  await page.fill('input[name=q]', 'alice.work@acme');
  await page.click('form.filters button[type=submit]');
  await page.waitForURL(/q=alice.work/);
  const rows = page.locator('tbody tr');
  expect(await rows.count()).toBe(1);
  expect(await rows.first().textContent()).toContain('not-entitled');

  await rows.first().locator('a').click();
  await page.waitForURL(/\/review\/R-/);
  expect(await page.locator('h1').textContent()).toContain('open');
  await page.click('form[action$="/approve"] button');
  await page.waitForURL(/done=approved/);
  expect(await page.locator('.flash.ok').textContent()).toContain('Approved');
  expect(await page.locator('dl.facts').textContent()).toMatch(/Account state\s*prioritized position 1/);

  await page.goto(`${base}/status?account=alice@example.com`);
  expect(await page.locator('#account-state').textContent()).toBe('prioritized');
  expect(violations).toEqual([]);
  await page.close();
});

test('the queue dashboard works under its security policy, and its own writes pass the origin check', async () => {
  await desk.services.rebuilds.prioritize('bob@example.com', 'staff');
  const page = await newPage();
  await logIn(page, '/admin/queues');
  await page.getByText('notices', { exact: true }).first().waitFor({ timeout: 15_000 });
  await page.getByText('rebuild', { exact: true }).first().click();
  await page.getByText('a-bob@example.com').first().waitFor();

  // What the dashboard's pause button does: a same-origin PUT from the page.
  const status = await page.evaluate(async () => (await fetch('api/queues/notices/pause', { method: 'PUT' })).status);
  expect(status).toBe(200);
  expect(await desk.services.notices.queue.isPaused()).toBe(true);
  await desk.services.notices.queue.resume();
  expect(violations).toEqual([]);
  await page.close();
});
