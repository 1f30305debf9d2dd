/**
 * Automatic mail, rebuild request, or anything else (SPEC §2.1). Automatic mail is recognised first:
 * answering it is how mail loops and backscatter start, so any sign of it wins over the subject.
 */
import type { ParsedMessage } from './parse';

/** Our own loop marker: every message the bot sends carries it, and any message carrying it is ignored. */
export const LOOP_HEADER = 'X-Rebuild-Desk-Loop';

export type AutomaticRule =
  | 'auto-submitted'
  | 'precedence'
  | 'list-header'
  | 'null-sender'
  | 'daemon-sender'
  | 'own-address'
  | 'loop-marker';

export type Classification =
  | { kind: 'automatic'; rule: AutomaticRule }
  | { kind: 'request' }
  | { kind: 'other' };

export interface ClassifyContext {
  /** Envelope MAIL FROM, lower-cased; '' for the null sender `<>`. */
  envelopeFrom: string;
  /** INTAKE_ADDRESSES and FROM_ADDRESS, lower-cased. */
  ownAddresses: readonly string[];
}

type Message = Pick<ParsedMessage, 'from' | 'subject' | 'headers'>;

/**
 * The automatic-mail rules, checked in this order; the first that matches names the reason recorded.
 * Our own mail coming back first (the surest sign of a loop), then what the sender's software declared
 * about the message in its headers, then what the sender's identity says.
 */
const AUTOMATIC_RULES: ReadonlyArray<[AutomaticRule, (msg: Message, ctx: ClassifyContext) => boolean]> = [
  ['loop-marker', (msg) => msg.headers.has(LOOP_HEADER.toLowerCase())],
  ['own-address', (msg, ctx) => author(msg, ctx) !== '' && ctx.ownAddresses.includes(author(msg, ctx))],
  ['auto-submitted', (msg) => isAutoSubmitted(msg.headers.get('auto-submitted'))],
  ['precedence', (msg) => isBulkPrecedence(msg.headers.get('precedence'))],
  ['list-header', (msg) => LIST_HEADERS.some((name) => msg.headers.has(name))],
  ['daemon-sender', (msg, ctx) => DAEMON_LOCAL_PARTS.has(localPart(author(msg, ctx)))],
  // RFC 3834 §2 and RFC 5321 §4.5.5: a message with the null reverse-path must never be answered.
  ['null-sender', (_msg, ctx) => ctx.envelopeFrom === ''],
];

/**
 * RFC 2369 (List-Help, -Unsubscribe, -Subscribe, -Post, -Owner, -Archive) and RFC 2919 (List-Id):
 * any of them means the message came through a mailing list, and RFC 3834 §2 asks responders not to
 * answer list mail.
 */
const LIST_HEADERS = ['list-id', 'list-unsubscribe', 'list-post', 'list-help', 'list-subscribe', 'list-owner', 'list-archive'];

/** Bounce and MTA senders (RFC 5321 §4.5.1 requires `postmaster`; `mailer-daemon` is the usual bounce From). */
const DAEMON_LOCAL_PARTS = new Set(['mailer-daemon', 'postmaster']);

/**
 * Precedence is not standardised, but `bulk`, `junk` and `list` are what list servers and mass mailers
 * set, and RFC 3834 §2 asks responders to honour them.
 */
const BULK_PRECEDENCE = new Set(['bulk', 'junk', 'list']);

export function classify(msg: Message, ctx: ClassifyContext): Classification {
  for (const [rule, matches] of AUTOMATIC_RULES) {
    if (matches(msg, ctx)) return { kind: 'automatic', rule };
  }
  return isRequestSubject(msg.subject) ? { kind: 'request' } : { kind: 'other' };
}

/**
 * RFC 3834 §5: `Auto-Submitted: no` is the only value meaning a human sent it; `auto-generated`,
 * `auto-replied`, `auto-notified` and any extension mean software did. Parameters after `;` and
 * comments do not change that. An empty value is treated as automatic, since it is certainly not `no`.
 */
function isAutoSubmitted(values: readonly string[] | undefined): boolean {
  if (!values) return false;
  return values.some((value) => firstToken(value) !== 'no');
}

function isBulkPrecedence(values: readonly string[] | undefined): boolean {
  return (values ?? []).some((value) => BULK_PRECEDENCE.has(firstToken(value)));
}

/** The value's keyword, lower-cased, without parameters (`;…`) or comments (`(…)`). */
function firstToken(value: string): string {
  return value.replace(/\([^)]*\)/g, ' ').split(';')[0]!.trim().toLowerCase();
}

/** Who wrote the message: the From address, or the envelope sender when From is missing or empty. */
function author(msg: Message, ctx: ClassifyContext): string {
  return msg.from?.address || ctx.envelopeFrom;
}

function localPart(address: string): string {
  const at = address.lastIndexOf('@');
  return (at === -1 ? address : address.slice(0, at)).toLowerCase();
}

/**
 * Reply and forward prefixes as mail clients write them: English `Re`/`Fwd`/`Fw`, German `AW`/`WG`,
 * Scandinavian `SV`/`VS`, French `TR`/`RE`, Dutch `Antw`, with an optional counter (`Re[2]:`,
 * `Re^2:`). Ticket and list tags in brackets (`[Support]`, `[#12345]`) go too.
 */
const SUBJECT_PREFIX = /^\s*(?:(?:re|fwd?|fw|aw|wg|sv|vs|tr|antw|ref)\s*(?:\[\d+\]|\^\d+)?\s*[:：]|\[[^\]]*\])\s*/i;

/** Strips every leading reply/forward prefix and `[tag]`, in any order and number. */
export function stripSubjectPrefixes(subject: string): string {
  let rest = subject;
  for (let match = SUBJECT_PREFIX.exec(rest); match && match[0].length > 0; match = SUBJECT_PREFIX.exec(rest)) {
    rest = rest.slice(match[0].length);
  }
  return rest;
}

/**
 * Case, spacing and punctuation folded away entirely, so "PRIORITY-REBUILD!!", "priority   rebuild"
 * and "Priority_Rebuild" all read "priorityrebuild"; NFKC first turns full-width and other compatibility
 * forms into plain letters. "Prioritized rebuild" folds to "prioritizedrebuild" and does not match.
 */
export function foldSubject(subject: string): string {
  return subject.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

const REQUEST_PHRASE = foldSubject('priority rebuild');

export function isRequestSubject(subject: string): boolean {
  return foldSubject(stripSubjectPrefixes(subject)).includes(REQUEST_PHRASE);
}
