/**
 * Which account a request is about (SPEC §2.2), read from the subject after "priority rebuild" and
 * from the body's own text.
 *
 * Candidates are of two kinds:
 * - *named*: the word after `account`, `account name`, `username`, `user name`, `user`, `login` (any
 *   case; `:`, `=`, `-`, "is", "name" between them are skipped), and the first word after the phrase
 *   in the subject ("Priority rebuild – jdoe"). A name without `@` gets `@DEFAULT_DOMAIN`.
 * - *bare*: any other address standing in the text ("you can reach me at me@gmail.com").
 *
 * claimAccount, precisely:
 * 1. Some named candidate: the named ones that exist in the directory decide: one → that account,
 *    several → `several`, none → `unknown` (the customer named something we do not have). Bare
 *    addresses are not looked at: next to a named account they are contact details.
 * 2. Otherwise the bare ones that exist decide: one → that account, several → `several`.
 * 3. Otherwise (no candidate exists) the sender, when the From address is itself an account.
 * 4. Otherwise bare addresses other than the sender's own → `unknown`; nothing left → `none`.
 * So an address that merely appears in the text never turns a request from an account holder, or one
 * naming a real account, into `unknown`, and a customer writing from an outside address that the text
 * repeats is asked for the account (`none`) rather than told it is unknown.
 *
 * Every candidate passes normalizeAccount before it is kept, so whatever surrounds a name in the mail
 * (`jdoe; rm -rf /`, `$(reboot)`) yields a valid account name or nothing.
 */
import { normalizeAccount } from '../accounts/account-name';
import { stripSubjectPrefixes } from './classify';
import type { ParsedMessage } from './parse';

export type AccountClaim =
  | { kind: 'one'; account: string; source: 'named' | 'sender' }
  | { kind: 'none' }
  | { kind: 'unknown'; candidates: string[] }
  | { kind: 'several'; accounts: string[] };

export interface ExtractContext {
  defaultDomain: string;
  /** Addresses never taken as a candidate (our own intake and From addresses). */
  ownAddresses: readonly string[];
  /** Directory membership, case-insensitive. */
  exists(account: string): boolean;
}

export interface CandidateSets {
  /** Named after a keyword or right after the phrase in the subject, in order, unique. */
  named: string[];
  /** Addresses standing alone in the text and not also named, in order, unique. */
  bare: string[];
}

type Source = Pick<ParsedMessage, 'subject' | 'text'>;
type NameContext = Pick<ExtractContext, 'defaultDomain' | 'ownAddresses'>;

/** Every normalised, pattern-valid candidate named in the subject and the body's own text, in order, unique. */
export function extractCandidates(msg: Source, ctx: NameContext): string[] {
  const found = [...scan(subjectAfterPhrase(msg.subject), ctx, true), ...scan(ownText(msg.text), ctx, false)];
  return unique(found.map((c) => c.account));
}

/** The same candidates, split by how they were found (see the top of this file). */
export function extractCandidateSets(msg: Source, ctx: NameContext): CandidateSets {
  const found = [...scan(subjectAfterPhrase(msg.subject), ctx, true), ...scan(ownText(msg.text), ctx, false)];
  const named = unique(found.filter((c) => c.named).map((c) => c.account));
  const bare = unique(found.filter((c) => !c.named && !named.includes(c.account)).map((c) => c.account));
  return { named, bare };
}

/** Candidates + sender → the account this request is about (SPEC §2.2 last paragraph; rule at the top). */
export function claimAccount(msg: Pick<ParsedMessage, 'subject' | 'text' | 'from'>, ctx: ExtractContext): AccountClaim {
  const { named, bare } = extractCandidateSets(msg, ctx);
  if (named.length > 0) return fromExisting(named.filter((a) => ctx.exists(a))) ?? { kind: 'unknown', candidates: named };

  const claim = fromExisting(bare.filter((a) => ctx.exists(a)));
  if (claim) return claim;

  const sender = normalizeAccount(msg.from?.address ?? '');
  if (sender && ctx.exists(sender)) return { kind: 'one', account: sender, source: 'sender' };

  const others = bare.filter((a) => a !== sender);
  return others.length > 0 ? { kind: 'unknown', candidates: others } : { kind: 'none' };
}

function fromExisting(existing: string[]): AccountClaim | null {
  if (existing.length === 1) return { kind: 'one', account: existing[0]!, source: 'named' };
  if (existing.length > 1) return { kind: 'several', accounts: existing };
  return null;
}

interface Found {
  at: number;
  account: string;
  named: boolean;
}

/** The subject from the phrase on, as written; '' when it has no phrase (then it names nothing). */
const PHRASE = /priority[^\p{L}\p{N}]*rebuild/iu;

function subjectAfterPhrase(subject: string): string {
  const rest = stripSubjectPrefixes(subject.normalize('NFKC'));
  const match = PHRASE.exec(rest);
  return match ? rest.slice(match.index + match[0].length) : '';
}

/**
 * The keywords that introduce an account name. The look-behind keeps `user` in `user@example.com` or
 * `super-user` from counting; the optional `name`/`id` covers "account name", "username", "user-id".
 */
const KEYWORD = /(?<![\p{L}\p{N}@._-])(?:account|user|login)(?:[ \t]*[-_]?[ \t]*(?:name|id))?(?![\p{L}\p{N}@_-])/giu;

/**
 * Longest word worth reading: an account name is at most 254 characters (account-name.ts). Longer
 * runs are skipped unread, which also keeps the trimming regexes linear on hostile text.
 */
const MAX_WORD_LENGTH = 256;

/** Words between a keyword and the name: "account name is jdoe", "user's name: jdoe", "login = jdoe". */
const CONNECTORS = new Set(['is', 'was', 'name', 'names', 'id', 's', 'ist', 'est']);

/**
 * Words that follow a keyword in ordinary sentences ("my account is empty", "the login page", "user
 * since 2009"): one of these where the name would be means the sentence names no account.
 */
const NOT_NAMES = new Set(
  (
    'a an the my our your his her their its this that these those which who what when where how why ' +
    'has have had been being be are were do does did done can could will would should shall may might must ' +
    'get gets got seems appears shows showing looks still just only also so too as if for of by via in on at ' +
    'to from with without since and or but not no nor i we you he she it they me us him them ' +
    'please pls thanks thank here there now again today yesterday ever never always already ' +
    'settings details information info page screen interface data manager support team access accounts users ' +
    'empty down gone broken lost missing locked blocked disabled suspended unavailable inaccessible unusable ' +
    'ok fine working affected urgent urgently asap completely totally entirely currently really very ' +
    'mailbox inbox email e-mail mail messages folder folders password passwords ' +
    'ist war für mein meine meinem est mon ma pour'
  ).split(' '),
);

/** Words that may sit between the phrase and the name in a subject ("Priority rebuild request for jdoe"). */
const SUBJECT_FILLERS = new Set([
  ...NOT_NAMES,
  ...CONNECTORS,
  ...'account user username login request requested needed need required requesting urgent asap konto postfach compte'.split(' '),
]);

/** How many words after a keyword may hold the name ("account's name is jdoe" needs four). */
const KEYWORD_LOOKAHEAD = 5;
const SUBJECT_LOOKAHEAD = 6;

function scan(text: string, ctx: NameContext, isSubject: boolean): Found[] {
  const found: Found[] = [];
  const keep = (at: number, word: string, named: boolean) => {
    const account = toAccount(word, ctx);
    if (account) found.push({ at, account, named });
    return account !== null;
  };

  if (isSubject) {
    for (const word of words(text, 0, SUBJECT_LOOKAHEAD)) {
      if (word.text === '' || SUBJECT_FILLERS.has(word.text.toLowerCase())) continue;
      if (keep(word.at, word.text, true)) break;
    }
  }
  for (const match of text.matchAll(KEYWORD)) {
    const after = match.index + match[0].length;
    for (const word of words(text, after, KEYWORD_LOOKAHEAD)) {
      const lower = word.text.toLowerCase();
      if (word.text === '' || CONNECTORS.has(lower)) continue;
      if (!NOT_NAMES.has(lower)) keep(word.at, word.text, true);
      break;
    }
  }
  for (const word of addressWords(text)) keep(word.at, word.text, false);

  return found.sort((a, b) => a.at - b.at);
}

/** The next `limit` whitespace-separated words from `from`, trimmed of surrounding punctuation. */
function* words(text: string, from: number, limit: number): Generator<{ at: number; text: string }> {
  const word = /\S+/gu;
  word.lastIndex = from;
  for (let i = 0; i < limit; i++) {
    const match = word.exec(text);
    if (!match) return;
    yield { at: match.index, text: match[0].length > MAX_WORD_LENGTH ? '' : trimWord(match[0]) };
  }
}

/** Characters that end an address written in running text: spaces, brackets, quotes, list separators. */
const ADDRESS_STOP = /[\s<>()[\]{}"'`“”‘’«»,;:|]/u;

/**
 * Every run of address characters holding an `@`, found from each `@` outwards rather than with a
 * regular expression, which would rescan a long run once per starting position.
 */
function* addressWords(text: string): Generator<{ at: number; text: string }> {
  for (let at = text.indexOf('@'); at !== -1; ) {
    let start = at;
    while (start > 0 && !ADDRESS_STOP.test(text[start - 1]!)) start--;
    let end = at + 1;
    while (end < text.length && !ADDRESS_STOP.test(text[end]!)) end++;
    if (start < at && end > at + 1 && end - start <= MAX_WORD_LENGTH) yield { at: start, text: trimWord(text.slice(start, end)) };
    at = text.indexOf('@', end);
  }
}

/**
 * Punctuation and quotes around a word: `(jdoe)`, `"jdoe",`, `<jdoe@example.com>.`, `=jdoe`, `jdoe;`.
 * A leading `-` stays (`-rf` must stay invalid, not become `rf`), and so does anything else (`$(…)`,
 * backquotes, pipes), which makes the name invalid. A word of punctuation alone (`:`, `-`) reads as ''.
 */
function trimWord(word: string): string {
  const trimmed = word
    .replace(/^[(<[{"'“”‘’«»:=–—*_]+/u, '')
    .replace(/[.,)>\]};:'"“”‘’«»!?*_]+$/u, '')
    .replace(/^mailto:/i, '');
  return /^[\p{P}\p{S}]*$/u.test(trimmed) ? '' : trimmed;
}

function toAccount(word: string, ctx: NameContext): string | null {
  if (word === '') return null;
  const account = normalizeAccount(word.includes('@') ? word : `${word}@${ctx.defaultDomain}`);
  return account && !ctx.ownAddresses.includes(account) ? account : null;
}

/**
 * The part of the body the sender wrote: quoted lines (`>`), everything from a reply header ("On … wrote:",
 * Outlook's "-----Original Message-----" or "From: … Sent: …" block) and the signature (after a line
 * that is exactly `-- `, RFC 3676 §4.3, or `--` as clients that trim lines send it) are dropped.
 * Forwarded messages are kept: a customer forwarding a request written elsewhere means what it says.
 */
export function ownText(text: string): string {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const own: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '-- ' || line === '--') break;
    if (startsReplyHeader(lines, i)) break;
    if (/^\s*>/.test(line)) continue;
    own.push(line);
  }
  return own.join('\n');
}

const ORIGINAL_MESSAGE = /^\s*-{2,}\s*(?:original message|ursprüngliche nachricht|message d'origine|oorspronkelijk bericht)\s*-{2,}\s*$/i;
/** "On Tue, 5 Mar 2024, Jo <jo@x> wrote:" and its German and French forms, wrapped on up to three lines. */
const ATTRIBUTION_START = /^\s*(?:on|am|le)\s/i;
const ATTRIBUTION_END = /(?:wrote|schrieb[^:]*|a écrit)\s*:\s*$/i;
const OUTLOOK_FROM = /^\s*\*?(?:from|von|de)\s*:/i;
const OUTLOOK_SENT = /^\s*\*?(?:sent|gesendet|envoyé)\s*:/i;

function startsReplyHeader(lines: readonly string[], i: number): boolean {
  const line = lines[i]!;
  if (ORIGINAL_MESSAGE.test(line)) return true;
  if (ATTRIBUTION_START.test(line)) {
    let joined = line;
    for (let k = 0; k < 3 && i + k < lines.length; k++) {
      if (k > 0) joined += ' ' + lines[i + k]!;
      if (ATTRIBUTION_END.test(joined)) return true;
    }
  }
  if (OUTLOOK_FROM.test(line)) {
    for (let k = 1; k <= 4 && i + k < lines.length; k++) if (OUTLOOK_SENT.test(lines[i + k]!)) return true;
  }
  return false;
}

function unique(list: string[]): string[] {
  return [...new Set(list)];
}
