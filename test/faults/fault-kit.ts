import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { RequestStore, type RequestRecord } from '../../src/requests/request-store';
import { ACCOUNTS_FILE, RECORDER } from '../helpers/desk';
import { RawSmtp } from '../helpers/raw-smtp';
import { freePort } from '../helpers/redis-server';

/**
 * What the fault tests share: the bot as real processes (`node dist/cli.js serve|intake|worker`, built
 * by `npm test` before jest runs), a load client that behaves like a sending MTA (retries every 4xx
 * and every broken connection until it gets its 250), and an audit of what Redis holds afterwards.
 */

const CLI = resolve(__dirname, '../../dist/cli.js');

export interface BotProcess {
  child: ChildProcess;
  /** Everything the process wrote to stderr (its logs), for a failing test's message. */
  output(): string;
  alive(): boolean;
  /** Signals the whole process group: the bot and any rebuild command it is running. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

const running = new Set<BotProcess>();

/** Ports and settings for one bot: SMTP and HTTP on free ports, high rate limits, a recorder rebuild. */
export async function botEnv(redisUrl: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const work = mkdtempSync(join(tmpdir(), 'rebuild-desk-fault-'));
  return {
    PATH: process.env.PATH ?? '',
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: `fault-${Math.random().toString(36).slice(2, 8)}`,
    SMTP_PORT: String(await freePort()),
    HTTP_PORT: String(await freePort()),
    ACCOUNTS_FILE,
    STAFF_PASSWORD: 'fault-suite-password-1',
    OUTBOX_DIR: join(work, 'outbox'),
    DATA_DIR: join(work, 'var'),
    LOG_LEVEL: 'warn',
    REBUILD_COMMAND: JSON.stringify(['sh', RECORDER, '{account}', join(work, 'rebuilds.log'), '0']),
    REBUILD_LOCK_MS: '2000',
    REBUILD_RETRY_DELAY_MS: '200',
    RATE_LIMIT_PER_SENDER: '1000000',
    RATE_LIMIT_PER_ACCOUNT: '1000000',
    ...extra,
  };
}

export function recordFileOf(env: Record<string, string>): string {
  return (JSON.parse(env.REBUILD_COMMAND) as string[])[3];
}

/** Starts `node dist/cli.js <role>`; for roles with a listener, resolves once it greets with 220. */
export async function startBot(role: 'serve' | 'intake' | 'worker', env: Record<string, string>): Promise<BotProcess> {
  const child = spawn(process.execPath, [CLI, role], { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const bot: BotProcess = {
    child,
    output: () => stderr,
    alive: () => child.exitCode === null && child.signalCode === null,
    kill: async (signal) => {
      if (!bot.alive()) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      try {
        process.kill(-child.pid!, signal);
      } catch {
        return;
      }
      await exited;
      running.delete(bot);
    },
  };
  running.add(bot);
  if (role !== 'worker') {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (!bot.alive()) throw new Error(`${role} exited at start-up:\n${stderr}`);
      if (await greets(Number(env.SMTP_PORT))) break;
      if (Date.now() > deadline) throw new Error(`${role} did not listen within 20 s:\n${stderr}`);
      await sleep(100);
    }
  }
  return bot;
}

/** For afterAll: SIGKILLs every bot process group still running. */
export async function killAllBots(): Promise<void> {
  await Promise.all([...running].map((bot) => bot.kill('SIGKILL')));
}

async function greets(port: number): Promise<boolean> {
  return new Promise((resolveGreets) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolveGreets(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('data', (data) => done(data.toString().startsWith('220')));
    socket.once('error', () => done(false));
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// The load: messages, and clients that deliver them the way an MTA does

export interface LoadMessage {
  messageId: string;
  from: string;
  raw: string;
}

export const ACCOUNTS = ['jdoe', 'alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan'].map((n) => `${n}@example.com`);

/** `count` messages with unique Message-IDs: three in four rebuild requests for the example accounts. */
export function makeLoad(count: number, tag: string): LoadMessage[] {
  return Array.from({ length: count }, (_, i) => {
    const messageId = `${tag}-${i}@load.test`;
    const account = ACCOUNTS[i % ACCOUNTS.length];
    const isRequest = i % 4 !== 3;
    const from = isRequest ? account : `customer${i}@elsewhere.example`;
    const raw = [
      `From: ${from}`,
      'To: webmaster@localhost',
      `Subject: ${isRequest ? 'Priority rebuild' : 'Question about my invoice'}`,
      `Message-ID: <${messageId}>`,
      'Date: Thu, 6 Mar 2025 09:00:00 +0000',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      isRequest ? `Please rebuild my mailbox.\r\nAccount: ${account}` : 'Why was I charged twice?',
      '',
    ].join('\r\n');
    return { messageId, from, raw };
  });
}

export interface LoadStats {
  sent: number;
  /** Message-ID → request id from the 250 reply. */
  accepted: Map<string, string>;
  /** 4xx replies to DATA or earlier, each followed by a retry. */
  tempFailures: number;
  /** 451 replies to the end of DATA, and the slowest of them from the final dot. */
  replies451: number;
  slowest451Ms: number;
  /** Connections refused, reset or timed out, each followed by a retry. */
  connectionErrors: number;
  /** Permanent (5xx) refusals: none expected. */
  rejected: Map<string, string>;
}

class ConnectionLost extends Error {}

/** A load client's session: a raw SMTP connection that treats a lost connection or a timeout as an error. */
class Client {
  private constructor(private readonly raw: RawSmtp) {}

  static async open(port: number): Promise<Client> {
    const raw = await RawSmtp.open(port).catch((err: Error) => {
      throw new ConnectionLost(err.message);
    });
    const client = new Client(raw);
    const greeting = await client.reply();
    if (!greeting.startsWith('220')) {
      client.close();
      throw new ConnectionLost(`greeting ${greeting}`);
    }
    await client.expect('EHLO load.test', '250');
    return client;
  }

  async reply(timeoutMs = 30_000): Promise<string> {
    const reply = await this.raw.reply(timeoutMs).catch(() => {
      throw new ConnectionLost('reply timed out');
    });
    if (reply === '') throw new ConnectionLost('closed by the server');
    return reply;
  }

  async command(line: string): Promise<string> {
    this.raw.socket.write(`${line}\r\n`);
    return this.reply();
  }

  async expect(line: string, code: string): Promise<void> {
    const reply = await this.command(line);
    if (!reply.startsWith(code)) throw new TempFailure(reply);
  }

  close(): void {
    this.raw.destroy();
  }
}

class TempFailure extends Error {}

/**
 * Delivers every message with `concurrency` clients, each sending many messages per connection. Like
 * an MTA, a client retries a message after any 4xx or broken connection, until it is accepted or
 * `deadlineMs` passes. `onAccepted` runs after each 250.
 */
export async function deliver(
  port: number | (() => number),
  messages: LoadMessage[],
  options: { concurrency: number; retryDelayMs?: number; deadlineMs?: number; onAccepted?: (stats: LoadStats) => void },
): Promise<LoadStats> {
  const stats: LoadStats = { sent: messages.length, accepted: new Map(), tempFailures: 0, replies451: 0, slowest451Ms: 0, connectionErrors: 0, rejected: new Map() };
  const queue = [...messages];
  const retryDelay = options.retryDelayMs ?? 200;
  const deadline = Date.now() + (options.deadlineMs ?? 120_000);
  const portOf = typeof port === 'function' ? port : () => port;

  const worker = async () => {
    let client: Client | null = null;
    for (let message = queue.shift(); message; ) {
      if (Date.now() > deadline) throw new Error(`load not delivered before its deadline: ${stats.accepted.size}/${stats.sent} accepted`);
      try {
        client ??= await Client.open(portOf());
        await client.expect(`MAIL FROM:<${message.from}>`, '250');
        await client.expect('RCPT TO:<webmaster@localhost>', '250');
        await client.expect('DATA', '354');
        const started = Date.now();
        const reply = await client.command(`${message.raw}\r\n.`);
        if (reply.startsWith('250')) {
          stats.accepted.set(message.messageId, /R-[0-9A-Z]{6}/.exec(reply)?.[0] ?? '');
          options.onAccepted?.(stats);
          message = queue.shift();
        } else if (reply.startsWith('5')) {
          stats.rejected.set(message.messageId, reply);
          message = queue.shift();
        } else {
          if (reply.startsWith('451')) {
            stats.replies451++;
            stats.slowest451Ms = Math.max(stats.slowest451Ms, Date.now() - started);
          }
          throw new TempFailure(reply);
        }
      } catch (err) {
        if (err instanceof TempFailure) {
          stats.tempFailures++;
          // A 421 closes the connection; after any other 4xx the session goes on with RSET.
          if (err.message.startsWith('421')) {
            client?.close();
            client = null;
          } else {
            await client?.command('RSET').catch(() => undefined);
          }
        } else if (err instanceof ConnectionLost) {
          stats.connectionErrors++;
          client?.close();
          client = null;
        } else {
          throw err;
        }
        await sleep(retryDelay);
      }
    }
    if (client) {
      await client.command('QUIT').catch(() => undefined);
      client.close();
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return stats;
}

// ---------------------------------------------------------------------------------------------------
// The audit: what Redis holds, by Message-ID

export interface Audit {
  stored: number;
  lost: string[];
  duplicated: string[];
  /** Accepted with one request id, stored under another. */
  mismatched: string[];
  /** Stored but never acted on (queue and notices). */
  unacted: string[];
  records: RequestRecord[];
}

export async function audit(redisUrl: string, prefix: string, messages: LoadMessage[], accepted: Map<string, string>): Promise<Audit> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  try {
    const store = new RequestStore(redis, prefix);
    const ids = await redis.zrange(`${prefix}:requests`, '0', '-1');
    const records: RequestRecord[] = [];
    for (let i = 0; i < ids.length; i += 500) records.push(...(await store.getMany(ids.slice(i, i + 500))));
    const byMessageId = new Map<string, RequestRecord[]>();
    for (const record of records) {
      const list = byMessageId.get(record.messageId ?? '') ?? [];
      list.push(record);
      byMessageId.set(record.messageId ?? '', list);
    }
    const lost: string[] = [];
    const duplicated: string[] = [];
    const mismatched: string[] = [];
    for (const message of messages) {
      const found = byMessageId.get(message.messageId) ?? [];
      if (found.length === 0) lost.push(message.messageId);
      if (found.length > 1) duplicated.push(message.messageId);
      const id = accepted.get(message.messageId);
      if (id && found.length > 0 && found[0].id !== id) mismatched.push(message.messageId);
    }
    return { stored: records.length, lost, duplicated, mismatched, unacted: records.filter((r) => !r.acted).map((r) => r.id), records };
  } finally {
    redis.disconnect();
  }
}

/** One line for the log and docs/RELIABILITY.md. */
export function summary(name: string, figures: Record<string, number | string>): string {
  return `[${name}] ${Object.entries(figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;
}
