import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import type { RequestRecord } from '../requests/request-store';
import { approve, isReviewReason, reassign, reject, REVIEW_REASONS, ReviewError } from '../requests/review-actions';
import type { Services } from '../services';

/**
 * `rebuild-desk review …` (SPEC §4.1): the review list and the staff actions from a shell, for operators
 * and scripts. Same rules and audit history as the web page (requests/review-actions.ts).
 */

const USAGE = `usage:
  review list [--json] [--reason REASON] [--all]
  review approve ID [--by NAME]
  review reject ID [--message TEXT] [--by NAME]
  review reassign ID ACCOUNT [--by NAME]
reasons: ${REVIEW_REASONS.join(', ')}
`;

/** sysexits(3) EX_USAGE. */
const EX_USAGE = 64;
/** The action was refused (not open, unknown account…): nothing changed. */
const EX_REFUSED = 1;

/** One review item as `review list --json` prints it. */
export interface ReviewListItem {
  id: string;
  reason: string;
  /** The account the message claimed, or null. */
  account: string | null;
  /** The From address (the envelope sender when there was none). */
  sender: string;
  /** ISO 8601. */
  received: string;
  subject: string;
  status: string | null;
}

export async function runReviewCommand(args: string[], services: Services, out: NodeJS.WritableStream, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: args[0] === 'review' ? args.slice(1) : args,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, all: { type: 'boolean' }, reason: { type: 'string' }, message: { type: 'string' }, by: { type: 'string' } },
    });
  } catch (e) {
    err.write(`review: ${(e as Error).message}\n${USAGE}`);
    return EX_USAGE;
  }
  const { values, positionals } = parsed;
  const [action, id, account] = positionals;
  const by = values.by ?? defaultActor();
  try {
    switch (action) {
      case 'list': {
        if (values.reason !== undefined && !isReviewReason(values.reason)) {
          err.write(`review: unknown reason ${JSON.stringify(values.reason)}\n${USAGE}`);
          return EX_USAGE;
        }
        const items = (await listAll(services, values.reason, values.all ? 'all' : 'open')).map(toListItem);
        out.write(values.json ? `${JSON.stringify(items, null, 2)}\n` : table(items, Boolean(values.all)));
        return 0;
      }
      case 'approve': {
        if (!id || positionals.length !== 2) break;
        const r = await approve(services, id, by);
        out.write(`${id} approved: ${r.account} ${r.outcome}${r.position !== null ? `, position ${r.position}` : ''}; ${r.notice ? `${r.notice} notice queued` : 'no reply sent'}\n`);
        return 0;
      }
      case 'reject': {
        if (!id || positionals.length !== 2) break;
        const r = await reject(services, id, by, values.message);
        out.write(`${id} rejected; ${r.notice ? 'rejected notice queued' : 'no reply for this reason'}\n`);
        return 0;
      }
      case 'reassign': {
        if (!id || !account || positionals.length !== 3) break;
        const r = await reassign(services, id, by, account);
        out.write(`${id} reassigned and approved: ${r.account} ${r.outcome}${r.position !== null ? `, position ${r.position}` : ''}; ${r.notice ? `${r.notice} notice queued` : 'no reply sent'}\n`);
        return 0;
      }
    }
  } catch (e) {
    if (!(e instanceof ReviewError)) throw e;
    err.write(`review: ${e.message}\n`);
    return EX_REFUSED;
  }
  err.write(USAGE);
  return EX_USAGE;
}

/** Who did it, for the audit history: the operator's login on this machine. */
function defaultActor(): string {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    name = process.env.USER; // containers without a passwd entry for the uid
  }
  return `cli:${name || 'unknown'}`;
}

async function listAll(services: Services, reason: string | undefined, status: 'open' | 'all'): Promise<RequestRecord[]> {
  const page = 500;
  const records: RequestRecord[] = [];
  for (let offset = 0; ; offset += page) {
    const { items, total } = await services.requests.listReview({ reason, status, offset, limit: page });
    records.push(...items);
    if (items.length < page || records.length >= total) return records;
  }
}

function toListItem(r: RequestRecord): ReviewListItem {
  return {
    id: r.id,
    reason: r.reason,
    account: r.account,
    sender: r.from || r.envelopeFrom,
    received: new Date(r.received).toISOString(),
    subject: r.subject,
    status: r.review,
  };
}

/**
 * Control characters and bidirectional overrides from a subject or address are replaced before they
 * reach the operator's terminal: an escape sequence in an email could otherwise rewrite the screen,
 * and a right-to-left override could make one address read as another.
 */
function printable(text: string): string {
  return text.replace(/[\p{Cc}\u202a-\u202e\u2066-\u2069]/gu, '?');
}

const SUBJECT_WIDTH = 50;

function table(items: ReviewListItem[], withStatus: boolean): string {
  if (items.length === 0) return withStatus ? 'No review items.\n' : 'No open review items.\n';
  const header = ['ID', 'RECEIVED', 'REASON', 'ACCOUNT', 'SENDER', ...(withStatus ? ['STATUS'] : []), 'SUBJECT'];
  const rows = items.map((i) => [
    i.id,
    i.received.slice(0, 16).replace('T', ' '),
    i.reason,
    i.account ?? '-',
    i.sender || '<>',
    ...(withStatus ? [i.status ?? '-'] : []),
    i.subject.length > SUBJECT_WIDTH ? `${i.subject.slice(0, SUBJECT_WIDTH - 1)}…` : i.subject,
  ].map(printable));
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}
