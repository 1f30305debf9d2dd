import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTransport, type SendMailOptions, type Transporter } from 'nodemailer';
import { LOOP_HEADER } from '../intake/classify';
import type { Logger } from '../log';
import { isReplyableAddress, type NoticeData, type NoticeKind } from './notice';
import type { RenderedNotice } from './render';

/**
 * Outbound mail: a pooled SMTP connection to OUTBOUND_SMTP_URL, or, without a relay, one .eml file per
 * message in OUTBOX_DIR (SPEC §4.2). Notices follow RFC 3834; forwards are plain messages from us.
 */

export interface Mailer {
  sendNotice(data: NoticeData, rendered: RenderedNotice): Promise<void>;
  forward(to: string, requestId: string, raw: Buffer, originalSubject: string): Promise<void>;
  close(): void;
}

export interface MailerOptions {
  /** smtp:// or smtps:// URL of the relay; unset writes .eml files to `outboxDir`. */
  outboundUrl?: string;
  outboxDir: string;
  fromAddress: string;
  log: Logger;
}

/** A subject is one line a person reads; RFC 5322 §2.1.1 caps a line at 998, this keeps far below. */
const MAX_SUBJECT = 200;
/** RFC 5322 sets no limit on a msg-id, but one longer than this is not a Message-ID anyone generated. */
const MAX_MESSAGE_ID = 250;
/**
 * RFC 3834 §3.1.7 and §5.2: `auto-replied` answers a message. The completion and delay notices are
 * caused by the rebuild finishing or failing, possibly hours later, not by a message: `auto-generated`.
 */
const CAUSED_BY_THE_REBUILD: ReadonlySet<NoticeKind> = new Set<NoticeKind>(['completed', 'delayed']);
/** The relay gets this long to answer before the attempt fails and the job retries later. */
const RELAY_TIMEOUT_MS = 30_000;

/** A message that can never be sent as it stands: retrying will not help. */
export class UnsendableError extends Error {
  override name = 'UnsendableError';
}

export function createMailer(opts: MailerOptions): Mailer {
  const domain = opts.fromAddress.split('@').pop() || 'localhost';
  const deliver = opts.outboundUrl ? relay(opts.outboundUrl) : outbox(opts.outboxDir);

  return {
    async sendNotice(data, rendered) {
      const to = singleRecipient(data.to);
      const inReplyTo = messageIdHeader(data.originalMessageId);
      await deliver.send(`${data.requestId}-${data.kind}`, {
        from: opts.fromAddress,
        to,
        // One recipient (RFC 3834 §3.1.3) and the null envelope sender `MAIL FROM:<>` (RFC 3834 §3):
        // a bounce of this notice, or another responder's answer to it, is never sent back to us.
        envelope: { from: '', to: [to] },
        subject: headerText(rendered.subject, MAX_SUBJECT),
        messageId: ownMessageId(domain),
        ...(inReplyTo ? { inReplyTo, references: [inReplyTo] } : {}), // RFC 3834 §3.1.6
        text: rendered.text,
        html: rendered.html,
        headers: {
          'Auto-Submitted': CAUSED_BY_THE_REBUILD.has(data.kind) ? 'auto-generated' : 'auto-replied',
          // Exchange and Outlook do not read Auto-Submitted; this stops their out-of-office replies.
          // No `Precedence`: RFC 3834 §2 calls it non-standard and read differently everywhere.
          'X-Auto-Response-Suppress': 'All',
          [LOOP_HEADER]: data.requestId,
        },
      });
      opts.log.info({ requestId: data.requestId, kind: data.kind, to: data.to }, 'notice sent');
    },

    async forward(forwardTo, requestId, raw, originalSubject) {
      const to = singleRecipient(forwardTo);
      await deliver.send(`${requestId}-forward`, {
        from: opts.fromAddress,
        to,
        // Not an auto-reply: a human reads it, and a bounce (a wrong FORWARD_TO) should reach us.
        envelope: { from: opts.fromAddress, to: [to] },
        subject: headerText(`Fwd: ${headerText(originalSubject, MAX_SUBJECT).replace(/^(fwd?\s*:\s*)+/i, '')}`, MAX_SUBJECT),
        messageId: ownMessageId(domain),
        text: `Forwarded by rebuild-desk, request ${requestId}.\r\nThe message as it was received is attached.\r\n`,
        // message/rfc822 is never transfer-encoded (RFC 2046 §5.2.1): the original travels byte for byte.
        attachments: [{ filename: `${requestId}.eml`, content: raw, contentType: 'message/rfc822', contentDisposition: 'attachment' }],
        // No Auto-Submitted: a helpdesk behind FORWARD_TO may drop automatic mail, and this must reach a
        // person. The loop marker alone keeps it from coming back to us as a new request.
        headers: { [LOOP_HEADER]: requestId },
      });
      opts.log.info({ requestId, kind: 'forward', to }, 'message forwarded');
    },

    close() {
      deliver.close();
    },
  };
}

/**
 * Header injection (CWE-93): the original subject and Message-ID are a stranger's text. A CR or LF in
 * them would end our header line and start one of theirs (`Bcc: victim@example.org`), making the bot a
 * relay for anyone who writes to it. Control characters become spaces, whitespace is folded, length capped.
 */
export function headerText(value: string, max: number): string {
  return value
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, max);
}

/** A notice goes to exactly one plain address (see isReplyableAddress). */
function singleRecipient(address: string): string {
  if (!isReplyableAddress(address)) {
    throw new UnsendableError(`not a single plain address: ${JSON.stringify(address.slice(0, 100))}`);
  }
  return address;
}

/** `<id>` for In-Reply-To/References, or null when what the customer sent is not a usable msg-id. */
export function messageIdHeader(messageId: string | null): string | null {
  if (!messageId) return null;
  const id = headerText(messageId, MAX_MESSAGE_ID + 2).replace(/^<|>$/g, '');
  // RFC 5322 §3.6.4: id-left "@" id-right, printable ASCII, no spaces or angle brackets.
  return /^[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+$/.test(id) && id.length <= MAX_MESSAGE_ID ? `<${id}>` : null;
}

function ownMessageId(domain: string): string {
  return `<${randomUUID()}@${domain}>`;
}

interface Delivery {
  send(name: string, message: SendMailOptions): Promise<void>;
  close(): void;
}

const HARDENING = { disableFileAccess: true, disableUrlAccess: true } as const; // content is ours, never a path or URL

function relay(url: string): Delivery {
  const transport: Transporter = createTransport({
    url,
    pool: true,
    connectionTimeout: RELAY_TIMEOUT_MS,
    greetingTimeout: RELAY_TIMEOUT_MS,
    socketTimeout: RELAY_TIMEOUT_MS,
    ...HARDENING,
  });
  return {
    async send(_name, message) {
      await transport.sendMail(message);
    },
    close: () => transport.close(),
  };
}

/** Without a relay each message becomes a file; written then renamed, so a reader never sees half of one. */
function outbox(dir: string): Delivery {
  const transport = createTransport({ streamTransport: true, buffer: true, newline: 'windows', ...HARDENING });
  return {
    async send(name, message) {
      await mkdir(dir, { recursive: true });
      const info = await transport.sendMail(message);
      const file = join(dir, `${timestamp()}-${name.replace(/[^A-Za-z0-9-]/g, '_')}.eml`);
      const temp = join(dir, `.${randomUUID()}.tmp`);
      try {
        await writeFile(temp, info.message as Buffer);
        await rename(temp, file);
      } catch (err) {
        await rm(temp, { force: true });
        throw err;
      }
    },
    close: () => transport.close(),
  };
}

/** 20250314T093015123Z: sorts by time, and has no ':' for file systems that refuse it. */
function timestamp(): string {
  return new Date().toISOString().replace(/[-:.]/g, '');
}
