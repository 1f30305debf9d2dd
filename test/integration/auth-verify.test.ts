import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimSign } from 'mailauth';
import type { Listener } from '../../src/intake/smtp-listener';
import { createAuthenticator, type DNSResolver } from '../../src/intake/verify';
import { RECORDER, recorded, startDesk, startListenerWith, type Desk } from '../helpers/desk';
import { startRedis, type TestRedis } from '../helpers/redis-server';
import { message, sendRaw } from '../helpers/send-mail';

/**
 * AUTH_MODE=verify: SPF, DKIM and DMARC checked by the bot itself. DNS is served from memory by a
 * resolver handed to the authenticator, so the keys and policies below are the whole world.
 */

function rsaKey(): { privateKey: string; record: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), record: `v=DKIM1; k=rsa; p=${der.toString('base64')}` };
}

const customer = rsaKey();
const attacker = rsaKey();

/** TXT records by name. Anything absent does not exist (ENOTFOUND); `dnsdown.example` fails (SERVFAIL). */
const zone: Record<string, string> = {
  'sel._domainkey.example.com': customer.record,
  '_dmarc.example.com': 'v=DMARC1; p=reject',
  // example.com sends from its own servers, never from the address the desk sees in these tests.
  'example.com': 'v=spf1 ip4:192.0.2.10 -all',
  'evil._domainkey.attacker.example': attacker.record,
  'attacker.example': 'v=spf1 ip4:127.0.0.1 -all',
  '_dmarc.attacker.example': 'v=DMARC1; p=none',
  // No DMARC record here: an aligned SPF pass is what proves it.
  'work.example.org': 'v=spf1 ip4:127.0.0.1 -all',
};

const resolver: DNSResolver = async (name, type) => {
  const domain = name.toLowerCase().replace(/\.$/, '');
  if (domain.endsWith('dnsdown.example')) throw Object.assign(new Error(`queryTxt ESERVFAIL ${domain}`), { code: 'ESERVFAIL' });
  if (type === 'TXT' && zone[domain]) return [[zone[domain]]];
  throw Object.assign(new Error(`queryTxt ENOTFOUND ${domain}`), { code: 'ENOTFOUND' });
};

async function signed(raw: string, key: { privateKey: string }, domain: string, selector: string): Promise<string> {
  const options = { signatureData: [{ signingDomain: domain, selector, privateKey: key.privateKey }] };
  const result = await dkimSign(raw, options as unknown as Parameters<typeof dkimSign>[1]);
  expect(result.errors).toEqual([]);
  return result.signatures + raw;
}

let redis: TestRedis;
let desk: Desk;
let listener: Listener;
let recordFile: string;
const to = ['webmaster@localhost'];

beforeAll(async () => {
  redis = await startRedis();
  recordFile = join(mkdtempSync(join(tmpdir(), 'rebuild-desk-record-')), 'rebuilds.log');
  desk = await startDesk(redis.url, { AUTH_MODE: 'verify', REBUILD_COMMAND: JSON.stringify(['sh', RECORDER, '{account}', recordFile]) }, { intake: false, workers: false });
  listener = await startListenerWith(desk, createAuthenticator('verify', { resolver, trustedAuthservId: 'mx.rebuild-desk.test' }));
});

afterAll(async () => {
  await listener?.close();
  await desk?.stop();
  await redis?.destroy();
});

async function noticesFor(requestId: string): Promise<number> {
  const jobs = await desk.services.notices.queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized']);
  return jobs.filter((job) => job?.data.requestId === requestId).length;
}

describe('AUTH_MODE=verify', () => {
  test('a request DKIM-signed by the From domain under its DMARC policy is prioritized', async () => {
    const raw = await signed(message({ from: 'John Doe <jdoe@example.com>', subject: 'Priority rebuild', body: 'Account: jdoe@example.com' }), customer, 'example.com', 'sel');
    const reply = await sendRaw(listener.port, raw, { from: 'jdoe@example.com', to });
    const request = await desk.services.requests.get(reply.requestId!);
    expect(request).toMatchObject({ decision: { kind: 'prioritize', account: 'jdoe@example.com' } });
    expect(request!.auth).toMatch(/dmarc=pass/);
    expect(request!.auth).toMatch(/dkim=pass \(example\.com, aligned\)/);
    expect(await desk.services.rebuilds.status('jdoe@example.com')).toMatchObject({ state: 'prioritized' });
    expect(await noticesFor(reply.requestId!)).toBe(1); // the confirmation
  });

  test('a signed request whose body was changed on the way is forged: review, no notice, no rebuild', async () => {
    const raw = (await signed(message({ from: 'bob@example.com', subject: 'Priority rebuild', body: 'Account: bob@example.com' }), customer, 'example.com', 'sel')).replace('Account: bob@example.com', 'Account: bob@example.com please');
    const reply = await sendRaw(listener.port, raw, { from: 'bob@example.com', to });
    const request = await desk.services.requests.get(reply.requestId!);
    expect(request).toMatchObject({ reason: 'forged', review: 'open', decision: { kind: 'review', reason: 'forged', account: 'bob@example.com', reply: null } });
    expect(request!.auth).toMatch(/dmarc=fail/);
    expect(await noticesFor(reply.requestId!)).toBe(0);
    expect(await desk.services.rebuilds.status('bob@example.com')).toMatchObject({ state: 'none' });
  });

  test('a From address of the customer signed and sent by another domain is forged', async () => {
    const raw = await signed(message({ from: 'Alice <alice@example.com>', subject: 'Priority rebuild', body: 'Account: alice@example.com' }), attacker, 'attacker.example', 'evil');
    const reply = await sendRaw(listener.port, raw, { from: 'bounces@attacker.example', to });
    const request = await desk.services.requests.get(reply.requestId!);
    expect(request).toMatchObject({ reason: 'forged', decision: { kind: 'review', reason: 'forged', reply: null } });
    expect(request!.auth).toMatch(/dkim=pass \(attacker\.example\)/);
    expect(request!.auth).toMatch(/spf=pass \(attacker\.example\)/);
    expect(await noticesFor(reply.requestId!)).toBe(0);
    expect(await desk.services.rebuilds.status('alice@example.com')).toMatchObject({ state: 'none' });
  });

  test('without a DMARC record, an SPF pass aligned with From still counts', async () => {
    // jd@work.example.org is registered for jdoe; work.example.org publishes SPF but no DMARC.
    const reply = await sendRaw(listener.port, message({ from: 'jd@work.example.org', subject: 'Priority rebuild for carol', body: 'Account: carol@example.com' }), { from: 'jd@work.example.org', to });
    const request = await desk.services.requests.get(reply.requestId!);
    expect(request!.auth).toMatch(/no DMARC record, aligned SPF pass/);
    // Authentic, but not entitled to carol's account: the ordinary not-entitled review, not forged.
    expect(request).toMatchObject({ reason: 'not-entitled' });
  });

  test('without a DMARC record and without any aligned pass, the sender is forged', async () => {
    const reply = await sendRaw(listener.port, message({ from: 'alice.backup@gmail.net', subject: 'Priority rebuild', body: 'Account: alice@example.com' }), { from: 'alice.backup@gmail.net', to });
    const request = await desk.services.requests.get(reply.requestId!);
    expect(request).toMatchObject({ reason: 'forged', decision: { reply: null } });
    expect(request!.auth).toMatch(/no DMARC record and no aligned pass/);
    expect(await noticesFor(reply.requestId!)).toBe(0);
  });

  test('a message with two From addresses is not authentic even if one of them passes', async () => {
    const raw = await signed(message({ from: 'jdoe@example.com, someone@attacker.example', subject: 'Priority rebuild', body: 'Account: jdoe@example.com' }), customer, 'example.com', 'sel');
    const reply = await sendRaw(listener.port, raw, { from: 'jdoe@example.com', to });
    expect(await desk.services.requests.get(reply.requestId!)).toMatchObject({ reason: 'forged' });
  });

  test('when DNS cannot answer, the sender is told 451 to retry and nothing is stored', async () => {
    const before = await desk.services.requests.countRequests();
    await expect(sendRaw(listener.port, message({ from: 'someone@dnsdown.example', subject: 'Priority rebuild', body: 'Account: jdoe@example.com' }), { from: 'someone@dnsdown.example', to })).rejects.toMatchObject({
      responseCode: 451,
    });
    expect(await desk.services.requests.countRequests()).toBe(before);
  });

  test('nothing forged ever reached the rebuild command', async () => {
    await desk.startWorkers();
    const deadline = Date.now() + 10_000;
    while (!recorded(recordFile).includes('end jdoe@example.com') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(recorded(recordFile)).toEqual(['start jdoe@example.com', 'end jdoe@example.com']);
  });
});
