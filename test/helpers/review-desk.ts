import type { Redis } from 'ioredis';
import type { AccountEntry, AccountLookup } from '../../src/accounts/directory';
import { loadConfig, type Config } from '../../src/config';
import type { ReviewReason } from '../../src/intake/decide';
import { silentLogger } from '../../src/log';
import { Metrics } from '../../src/metrics';
import { producerConnection, waitReady } from '../../src/queue/connection';
import { NoticeQueue } from '../../src/queue/notice-queue';
import { RebuildQueue } from '../../src/queue/rebuild-queue';
import { RequestStore } from '../../src/requests/request-store';
import type { Services } from '../../src/services';
import { testPrefix } from './redis-server';

/** Accounts the review tests know about, with the other addresses entitled to ask for them. */
export const ACCOUNTS: Record<string, string[]> = {
  'alice@example.com': ['alice.backup@gmail.net'],
  'jdoe@example.com': ['john.doe@gmail.com'],
  'bob@example.com': [],
  'carol@example.com': ['carol.martin@outlook.com'],
  'dan@example.com': [],
  'erin@example.com': [],
};

/** An in-memory account directory: the review actions only ask whether an account exists. */
export function accountLookup(accounts: Record<string, string[]> = ACCOUNTS): AccountLookup {
  const entries = new Map(Object.entries(accounts).map(([account, addresses]) => [account, { account, addresses }] as [string, AccountEntry]));
  return {
    get: (account) => entries.get(account.trim().toLowerCase()),
    has: (account) => entries.has(account.trim().toLowerCase()),
    isEntitled: (account, sender) => {
      const entry = entries.get(account.trim().toLowerCase());
      const from = sender.trim().toLowerCase();
      return entry !== undefined && (from === entry.account || entry.addresses.includes(from));
    },
    get size() {
      return entries.size;
    },
  };
}

export interface ReviewDesk {
  services: Services;
  config: Config;
  redis: Redis;
  close(): Promise<void>;
}

/** The shared services built by hand, the way the entry point builds them, under a prefix of their own. */
export async function reviewDesk(redisUrl: string, env: Record<string, string> = {}, directory: AccountLookup = accountLookup()): Promise<ReviewDesk> {
  const config = loadConfig({ REDIS_URL: redisUrl, QUEUE_PREFIX: testPrefix('review'), HTTP_PORT: '0', LOG_LEVEL: 'silent', ...env });
  const redis = producerConnection(redisUrl);
  redis.on('error', () => undefined); // tests that stop Redis expect errors; they assert on outcomes instead
  await waitReady(redis);
  const prefix = config.QUEUE_PREFIX;
  const rebuilds = new RebuildQueue(redis, prefix);
  const notices = new NoticeQueue(redis, prefix);
  const services: Services = {
    config,
    log: silentLogger,
    redis,
    requests: new RequestStore(redis, prefix),
    rebuilds,
    notices,
    // Services names the concrete class; the review code only uses the AccountLookup part of it.
    directory: directory as Services['directory'],
    metrics: new Metrics({ defaultMetrics: false }),
  };
  return {
    services,
    config,
    redis,
    close: async () => {
      await Promise.allSettled([rebuilds.close(), notices.close()]);
      redis.disconnect();
    },
  };
}

export interface ItemFields {
  reason: ReviewReason;
  from: string;
  /** The account the message claimed; null for no-account, ambiguous and not-a-request. */
  account: string | null;
  subject?: string;
  text?: string;
  received?: number;
}

/** A review item as the intake stores one: a request whose decision sent it to review. */
export async function createReviewItem(services: Services, fields: ItemFields): Promise<string> {
  const subject = fields.subject ?? 'Priority rebuild';
  const messageId = `${Math.random().toString(36).slice(2)}@mail.test`;
  const text = fields.text ?? `Hello,\n\nplease rebuild my mailbox first. Account: ${fields.account ?? '?'}\n\nThanks`;
  const received = fields.received ?? Date.now();
  const headerBlock = [
    `From: ${fields.from}`,
    'To: webmaster@example.com',
    `Subject: ${subject}`,
    `Message-ID: <${messageId}>`,
    `Date: ${new Date(received).toUTCString()}`,
  ].join('\n');
  const raw = Buffer.from(`${headerBlock.replace(/\n/g, '\r\n')}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text.replace(/\n/g, '\r\n')}\r\n`);
  const reply = fields.reason === 'forged' || fields.reason === 'not-a-request' ? null : fields.reason === 'no-account' ? 'need-account' : 'pending-review';
  const { id } = await services.requests.create(
    {
      received,
      envelopeFrom: fields.from,
      envelopeTo: ['webmaster@example.com'],
      remoteAddress: '203.0.113.7',
      helo: 'mail.sender.test',
      messageId,
      from: fields.from,
      subject,
      classification: fields.reason === 'not-a-request' ? 'other' : 'request',
      account: fields.account,
      decision: { kind: 'review', reason: fields.reason, account: fields.account, reply },
      auth: fields.reason === 'forged' ? 'dmarc=fail (p=reject) dkim=none spf=fail' : 'dmarc=pass dkim=pass spf=pass',
      text,
      headerBlock,
    },
    raw,
  );
  return id;
}
