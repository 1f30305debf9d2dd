import { readFile } from 'node:fs/promises';
import { handleMessage } from '../intake/handle-message';
import { intakeDeps } from '../intake/intake-deps';
import type { Services } from '../services';

/**
 * `ingest FILE|-`: one raw message handled as if it arrived by SMTP, for an MTA's pipe delivery
 * (e.g. Postfix `pipe`). Exit codes are sysexits(3), which MTAs understand: 0 accepted, 75 temporary
 * failure (the MTA keeps the message and retries), 65 unusable input (the MTA bounces it).
 */
export const EX_OK = 0;
export const EX_DATAERR = 65;
export const EX_TEMPFAIL = 75;

export interface IngestOptions {
  source: string;
  sender?: string;
  recipient?: string;
  clientAddress?: string;
  helo?: string;
}

export async function readInput(source: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<Buffer> {
  if (source !== '-') return readFile(source);
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export async function ingestRaw(raw: Buffer, options: IngestOptions, services: Services): Promise<{ code: number; message: string }> {
  const { config } = services;
  if (raw.length === 0) return { code: EX_DATAERR, message: 'empty input: no message to ingest' };
  if (raw.length > config.SMTP_MAX_SIZE) return { code: EX_DATAERR, message: `message is ${raw.length} bytes, over SMTP_MAX_SIZE (${config.SMTP_MAX_SIZE})` };
  try {
    const outcome = await handleMessage(
      raw,
      {
        from: envelopeSender(options.sender ?? returnPath(raw) ?? ''),
        to: [(options.recipient ?? config.INTAKE_ADDRESSES[0]).toLowerCase()],
        remoteAddress: options.clientAddress ?? '127.0.0.1',
        helo: options.helo ?? 'localhost',
      },
      intakeDeps(services),
    );
    return { code: EX_OK, message: `accepted as ${outcome.id} (${outcome.decision.kind})${outcome.duplicate ? ', already received' : ''}` };
  } catch (err) {
    return { code: EX_TEMPFAIL, message: `could not store the message, try again later: ${(err as Error).message}` };
  }
}

/**
 * The null sender `<>` reaches a pipe as the MTA spells it: Postfix's `${sender}` is MAILER-DAEMON
 * (its null_sender setting), others pass `<>` or nothing. All mean a bounce, never to be answered.
 */
function envelopeSender(given: string): string {
  const sender = given.trim().toLowerCase();
  return sender === '<>' || sender === 'mailer-daemon' ? '' : sender.replace(/^<(.*)>$/, '$1');
}

/** Without --sender, the Return-Path the delivering MTA added is the envelope sender. */
function returnPath(raw: Buffer): string | null {
  const head = raw.subarray(0, 64 * 1024).toString('latin1');
  const end = head.search(/\r?\n\r?\n/);
  const match = /^return-path:\s*<([^>]*)>/im.exec(end === -1 ? head : head.slice(0, end));
  return match ? match[1] : null;
}
