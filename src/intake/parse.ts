/**
 * mailparser → the few fields the flow uses. The only file that knows mailparser.
 *
 * Every message comes from the Internet and may be hostile or simply broken: parseMessage never throws on
 * input. Whatever mailparser cannot make sense of (no header section, a multipart without its boundary,
 * NUL bytes, invalid UTF-8) is returned as well as it can be and flagged `malformed`, so the request is
 * still recorded and staff still see it (SPEC §4.4).
 */
import { MailParser, parseAddressHeader } from 'mailparser';
import type { AddressObject, AttachmentStream, EmailAddress, HeaderValue, MessageText } from 'mailparser';

export interface Mailbox {
  /** Lower-cased address, or '' when the header had no usable address. */
  address: string;
  name: string;
}

export interface ParsedMessage {
  /** Message-ID without angle brackets, or null. */
  messageId: string | null;
  /** First mailbox of From, or null when missing or unparseable. */
  from: Mailbox | null;
  /** Decoded subject (RFC 2047), '' when missing. */
  subject: string;
  /** The body's own text: the plain part, else the HTML part turned into text. Capped in length. */
  text: string;
  /**
   * Header values by lower-cased name; a repeated header keeps every value in order. Values are as
   * written (unfolded, trimmed, encoded words not decoded), which is what classify and the
   * authentication checks need; mailparser's own map merges List-* headers into one `list` object.
   */
  headers: ReadonlyMap<string, string[]>;
  /** Raw header block as received (for staff), capped in length. */
  headerBlock: string;
  /** True when mailparser had to guess (missing boundary, broken encoding...). */
  malformed: boolean;
}

/**
 * The text the extract step scans, in UTF-16 code units. Message content is untrusted: a 10 MiB body of
 * "account account account…" must not cost the intake more than a normal message. A request fits in a
 * few lines; 64 Ki characters is far beyond any genuine one.
 */
export const MAX_TEXT_LENGTH = 64 * 1024;

/** The header block kept for staff, in characters. Real header blocks stay well under 16 KiB. */
export const MAX_HEADER_BLOCK_LENGTH = 64 * 1024;

/**
 * Header section scanned for the `headers` map, in bytes: mailparser's own default `maxHeadSize`, past
 * which it gives up on the message, so both read the same headers.
 */
const MAX_HEADER_SECTION_BYTES = 1024 * 1024;

/**
 * HTML longer than this is not handed to mailparser's html-to-text, whose cost grows with the document;
 * the short fallback converter below reads its first MAX_FALLBACK_HTML characters instead.
 */
const MAX_HTML_TO_CONVERT = 1024 * 1024;
const MAX_FALLBACK_HTML = 256 * 1024;

/** Base64 bodies scanned for characters outside the alphabet, in bytes (the `malformed` flag only). */
const MAX_BASE64_SCAN_BYTES = 1024 * 1024;

export async function parseMessage(raw: Buffer): Promise<ParsedMessage> {
  const section = splitHeaderSection(raw);
  const headers = parseHeaderLines(raw.subarray(0, Math.min(section.headerEnd, MAX_HEADER_SECTION_BYTES)));
  const headerBlock = capLength(raw.subarray(0, Math.min(section.headerEnd, MAX_HEADER_BLOCK_LENGTH * 4)).toString('utf8'), MAX_HEADER_BLOCK_LENGTH);

  const mime = await runMailParser(raw);

  let text = mime.text ?? '';
  if (!text.trim() && mime.html) text = htmlToPlainText(mime.html.slice(0, MAX_FALLBACK_HTML));
  // A multipart message whose boundary is missing or never appears yields no parts at all; its body
  // as written is still the best reading of what the sender said.
  const noParts = mime.text === undefined && mime.html === undefined;
  if (!text.trim() && noParts && section.bodyStart < raw.length) {
    text = raw.subarray(section.bodyStart, section.bodyStart + MAX_TEXT_LENGTH * 4).toString('utf8');
  }
  text = capLength(stripControlCharacters(text), MAX_TEXT_LENGTH);

  const subject = mime.subject ?? headers.get('subject')?.[0] ?? '';
  const messageId = stripAngles(mime.messageId ?? headers.get('message-id')?.[0] ?? '');

  return {
    messageId: messageId || null,
    from: firstMailbox(mime.from ?? fromRawHeader(headers)),
    subject: stripControlCharacters(subject).trim(),
    text,
    headers,
    headerBlock,
    malformed:
      mime.failed ||
      !section.separated ||
      raw.includes(0) ||
      text.includes('\uFFFD') ||
      (noParts && declaresMultipart(headers)) ||
      hasBrokenBase64(raw),
  };
}

interface MimeResult {
  subject?: string;
  messageId?: string;
  from?: AddressObject;
  text?: string;
  html?: string;
  /** mailparser emitted an error: what it produced before that is kept. */
  failed: boolean;
}

/**
 * The streaming MailParser rather than simpleParser, which buffers every attachment and so holds about
 * twice the message in memory. Attachments are drained and released unread: the parser stalls until
 * each one is, and nothing in the flow needs their content.
 */
function runMailParser(raw: Buffer): Promise<MimeResult> {
  return new Promise((resolve) => {
    const result: MimeResult = { failed: false };
    const parser = new MailParser({ maxHtmlLengthToParse: MAX_HTML_TO_CONVERT, skipTextToHtml: true, skipTextLinks: true, checksumAlgo: false });
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      resolve(result);
    };

    parser.on('headers', (parsed) => {
      result.subject = asString(parsed.get('subject'));
      result.messageId = asString(parsed.get('message-id'));
      const from = parsed.get('from');
      if (isAddressObject(from)) result.from = from;
    });
    parser.on('data', (part: AttachmentStream | MessageText) => {
      if (part.type === 'attachment') {
        part.content.on('error', () => part.release?.());
        part.content.on('end', () => part.release?.());
        part.content.resume();
        return;
      }
      if (typeof part.text === 'string') result.text = part.text;
      if (typeof part.html === 'string') result.html = part.html;
    });
    parser.on('error', () => {
      result.failed = true;
      finish();
    });
    parser.on('end', finish);
    parser.end(raw);
  });
}

function asString(value: HeaderValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

function isAddressObject(value: HeaderValue | undefined): value is AddressObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Array.isArray((value as Partial<AddressObject>).value);
}

/** When mailparser gave up before the headers (an oversized header block), From as written. */
function fromRawHeader(headers: ReadonlyMap<string, string[]>): AddressObject | undefined {
  const value = headers.get('from')?.[0];
  return value === undefined ? undefined : parseAddressHeader(value);
}

function firstMailbox(header: AddressObject | undefined): Mailbox | null {
  if (!header) return null;
  const first = flatten(header.value)[0];
  if (!first) return null;
  return { address: (first.address ?? '').trim().toLowerCase(), name: first.name ?? '' };
}

function flatten(addresses: EmailAddress[]): EmailAddress[] {
  return addresses.flatMap((a) => (a.group ? flatten(a.group) : [a]));
}

interface HeaderSection {
  /** Byte offset just past the header section (the whole input when it never ends). */
  headerEnd: number;
  bodyStart: number;
  /** False when no empty line separates headers from body, or the first line is no header at all. */
  separated: boolean;
}

/** Finds the empty line that ends the header section (RFC 5322 §2.1), LF or CRLF. */
function splitHeaderSection(raw: Buffer): HeaderSection {
  if (!looksLikeHeaderLine(raw.subarray(0, 1000).toString('latin1').split(/\r?\n/, 1)[0] ?? '')) {
    return { headerEnd: 0, bodyStart: 0, separated: false };
  }
  let lf = raw.indexOf(0x0a);
  while (lf !== -1) {
    let next = lf + 1;
    if (raw[next] === 0x0d) next++;
    if (raw[next] === 0x0a) return { headerEnd: lf + 1, bodyStart: next + 1, separated: true };
    lf = raw.indexOf(0x0a, lf + 1);
  }
  return { headerEnd: raw.length, bodyStart: raw.length, separated: false };
}

/** `Name: value`, where Name is printable ASCII without a colon (RFC 5322 §2.2). */
const HEADER_LINE = /^([!-9;-~]+)[ \t]*:(.*)$/s;

function looksLikeHeaderLine(line: string): boolean {
  return HEADER_LINE.test(line);
}

function parseHeaderLines(section: Buffer): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  let current: { name: string; value: string } | null = null;
  const flush = () => {
    if (!current) return;
    const values = headers.get(current.name);
    const value = current.value.replace(/\s+/g, ' ').trim();
    if (values) values.push(value);
    else headers.set(current.name, [value]);
    current = null;
  };
  for (const line of section.toString('utf8').split(/\r?\n/)) {
    if (/^[ \t]/.test(line)) {
      if (current) (current as { value: string }).value += ' ' + line;
      continue;
    }
    flush();
    const match = HEADER_LINE.exec(line);
    if (match) current = { name: match[1]!.toLowerCase(), value: match[2]! };
  }
  flush();
  return headers;
}

function declaresMultipart(headers: ReadonlyMap<string, string[]>): boolean {
  return /^\s*multipart\//i.test(headers.get('content-type')?.[0] ?? '');
}

/**
 * A base64 body containing characters outside its alphabet was damaged on the way (or crafted);
 * mailparser decodes what it can without saying so.
 */
function hasBrokenBase64(raw: Buffer): boolean {
  const head = raw.subarray(0, MAX_BASE64_SCAN_BYTES).toString('latin1');
  const marker = /^content-transfer-encoding:[ \t]*base64[ \t]*\r?$/gim;
  const blank = /\r?\n\r?\n/g;
  for (let m = marker.exec(head); m; m = marker.exec(head)) {
    blank.lastIndex = m.index;
    const start = blank.exec(head);
    if (!start) return false;
    // The part's body, up to its next boundary line; the next search starts there, so the scan is linear.
    let line = start.index + start[0].length;
    while (line < head.length && !head.startsWith('--', line)) {
      let end = head.indexOf('\n', line);
      if (end === -1) end = head.length;
      if (!/^[A-Za-z0-9+/=\s]*$/.test(head.slice(line, end))) return true;
      line = end + 1;
    }
    marker.lastIndex = Math.max(marker.lastIndex, line);
  }
  return false;
}

function stripAngles(id: string): string {
  return id.trim().replace(/^<+/, '').replace(/>+$/, '').trim();
}

/** NUL and other C0 controls (tab and line breaks aside) mean nothing in text and upset storage and logs. */
function stripControlCharacters(s: string): string {
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '');
}

/** Cuts to at most `max` UTF-16 code units without splitting a surrogate pair. */
function capLength(s: string, max: number): string {
  if (s.length <= max) return s;
  const code = s.charCodeAt(max - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

const ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * The HTML → text reading used when mailparser produced none (HTML past MAX_HTML_TO_CONVERT, or an
 * HTML-only part it does not convert). Quoted blocks are dropped: extract ignores them anyway. Every
 * step is a single forward scan, since this is the path a hostile oversized HTML part takes.
 */
function htmlToPlainText(html: string): string {
  return dropBlocks(html)
    .replace(/<br\s*\/?>|<\/(?:p|div|li|tr|h[1-6])\s*>/gi, '\n')
    .replace(/<[^<>]*>/g, '')
    .replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,8});/gi, (whole, name: string) => {
      if (name[0] !== '#') return ENTITIES[name.toLowerCase()] ?? whole;
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : ' ';
    })
    .replace(/[ \t]+/g, ' ')
    .trim();
}

/** Removes script, style, head and blockquote elements with their content; an unclosed one runs to the end. */
function dropBlocks(html: string): string {
  const lower = html.toLowerCase();
  const open = /<(script|style|head|blockquote)\b/g;
  let out = '';
  let from = 0;
  for (let m = open.exec(lower); m; m = open.exec(lower)) {
    out += html.slice(from, m.index) + ' ';
    const close = lower.indexOf(`</${m[1]}`, open.lastIndex);
    if (close === -1) return out;
    const end = lower.indexOf('>', close);
    if (end === -1) return out;
    from = open.lastIndex = end + 1;
  }
  return out + html.slice(from);
}
