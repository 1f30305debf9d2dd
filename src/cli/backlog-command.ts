import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { normalizeAccount } from '../accounts/account-name';
import type { RebuildQueue } from '../queue/rebuild-queue';

/**
 * `backlog FILE|-`: every account of a file (one per line, or the accounts CSV) into the backlog at
 * backlog priority. Idempotent: accounts already in the backlog, queued, rebuilding or finished are
 * skipped, so a load that was interrupted is simply run again.
 */

/** Accounts per round trip: large enough to amortise it, small enough to keep Redis responsive. */
const CHUNK = 5_000;

export interface BacklogSummary {
  lines: number;
  added: number;
  skipped: number;
  invalid: number;
  invalidExamples: string[];
  seconds: number;
}

export async function loadBacklog(
  source: string,
  rebuilds: RebuildQueue,
  progress: (done: number) => void = () => undefined,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<BacklogSummary> {
  const started = Date.now();
  const input = source === '-' ? stdin : createReadStream(source);
  const lines = createInterface({ input, crlfDelay: Infinity });
  const summary: BacklogSummary = { lines: 0, added: 0, skipped: 0, invalid: 0, invalidExamples: [], seconds: 0 };
  let chunk: string[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    const added = await rebuilds.addBacklog(chunk);
    summary.added += added;
    summary.skipped += chunk.length - added;
    chunk = [];
    progress(summary.lines);
  };
  for await (const line of lines) {
    summary.lines++;
    // The accounts CSV works as it is: its first column is the account, its header is skipped.
    const first = line.split(',')[0].trim().replace(/^"|"$/g, '');
    if (first === '' || first.startsWith('#') || (summary.lines === 1 && first.toLowerCase() === 'account')) continue;
    const account = normalizeAccount(first);
    if (!account) {
      summary.invalid++;
      if (summary.invalidExamples.length < 10) summary.invalidExamples.push(`line ${summary.lines}: ${JSON.stringify(first.slice(0, 80))}`);
      continue;
    }
    chunk.push(account);
    if (chunk.length >= CHUNK) await flush();
  }
  await flush();
  summary.seconds = (Date.now() - started) / 1000;
  return summary;
}
