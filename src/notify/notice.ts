/** The replies the bot can send (SPEC §2.4 reply column, §6), and what a notice job carries. */

export const NOTICE_KINDS = [
  'need-account',
  'unknown-account',
  'pending-review',
  'confirmation',
  'already-queued',
  'in-progress',
  'already-done',
  'completed',
  'delayed',
  'rejected',
  'rate-limited',
] as const;

export type NoticeKind = (typeof NOTICE_KINDS)[number];

export interface NoticeData {
  kind: NoticeKind;
  /** The request this notice answers; with `kind` it makes the job id, so a notice is sent once. */
  requestId: string;
  /** One recipient: the verified sender (RFC 3834 §3.1). */
  to: string;
  account: string | null;
  /** Subject and Message-ID of the customer's message, for `Re:` and In-Reply-To/References. */
  originalSubject: string;
  originalMessageId: string | null;
  /** 1-based place among the rebuilds ahead, when known. */
  position?: number;
  /** Minutes until the rebuild is expected to start, from the measured rate; absent when unknown. */
  estimateMinutes?: number;
  /** Free text from a staff member (reject), shown as-is (escaped in HTML). */
  staffMessage?: string;
}

/** Forwarding a non-request to FORWARD_TO: the original travels as an attached message/rfc822. */
export interface ForwardData {
  kind: 'forward';
  requestId: string;
  to: string;
}

export type OutboundJob = NoticeData | ForwardData;

/** Job ids are unique per request and kind: BullMQ ignores a second add with the same id. */
export function outboundJobId(job: Pick<OutboundJob, 'requestId' | 'kind'>): string {
  return `${job.requestId}-${job.kind}`;
}

/**
 * Whether a notice may be sent to this address: one plain ASCII address, nothing else. nodemailer reads
 * a recipient as an address list (`a@x, b@y`, or `a@x>\r\nRCPT TO:<b@y`), so anything looser would let
 * a sender make the bot mail whoever they name; an address with broken bytes would only bounce.
 */
export function isReplyableAddress(address: string): boolean {
  return /^[\x21-\x7e]+$/.test(address) && /^[^<>()[\]\\,;:"@]+@[^<>()[\]\\,;:"@]+$/.test(address);
}
