import { normalizeAccount } from '../accounts/account-name';
import type { ReviewReason } from '../intake/decide';
import { isReplyableAddress, type NoticeKind } from '../notify/notice';
import type { PrioritizeOutcome } from '../queue/rebuild-queue';
import type { Services } from '../services';
import type { RequestRecord } from './request-store';

/**
 * What support staff can do with a review item (SPEC §2.4, the two "staff" rows), shared by the web
 * page and the CLI so both follow the same rules and leave the same audit trail.
 *
 * Each action first *claims* the item with `resolveReview` (an atomic ZREM of the open list) and only
 * then acts. Two staff members clicking at once — one approve, one reject — therefore cannot both have
 * their side effects: the first decision stands and the second gets `not-open`. If acting fails after
 * the claim (Redis went away mid-way), the item is reopened so it is not silently lost.
 */

/** Every review reason, in the order staff usually work them: the ones a customer is waiting on first. */
export const REVIEW_REASONS = ['not-entitled', 'ambiguous', 'unknown-account', 'no-account', 'forged', 'rebuild-failed', 'not-a-request'] as const satisfies readonly ReviewReason[];

export function isReviewReason(value: unknown): value is ReviewReason {
  return (REVIEW_REASONS as readonly unknown[]).includes(value);
}

export type ReviewErrorCode =
  | 'not-found'
  | 'not-open'
  | 'nothing-to-rebuild'
  | 'no-account'
  | 'invalid-account'
  | 'unknown-account';

const MESSAGES: Record<ReviewErrorCode, string> = {
  'not-found': 'there is no such request',
  'not-open': 'this item is not open: someone already decided it, and the first decision stands',
  'nothing-to-rebuild': 'this message is not a rebuild request, so there is nothing to approve; reassign it to an account if it is one',
  'no-account': 'this request names no account; reassign it to an account instead',
  'invalid-account': 'that is not a valid account name',
  'unknown-account': 'that account is not in the account directory',
};

/** A staff action that was refused. Not a failure: the caller shows `message` and nothing changed. */
export class ReviewError extends Error {
  constructor(
    readonly code: ReviewErrorCode,
    readonly requestId: string,
  ) {
    super(`${requestId}: ${MESSAGES[code]}`);
    this.name = 'ReviewError';
  }
}

export function reviewErrorMessage(code: ReviewErrorCode): string {
  return MESSAGES[code];
}

export function isReviewErrorCode(value: unknown): value is ReviewErrorCode {
  return typeof value === 'string' && Object.hasOwn(MESSAGES, value);
}

/**
 * A staff message goes out by email: bounded so a paste of a whole thread does not become a mail bomb
 * the bot sends in the provider's name.
 */
export const MAX_STAFF_MESSAGE = 2_000;

export interface ApproveResult {
  account: string;
  outcome: PrioritizeOutcome;
  position: number | null;
  /** The notice queued for the sender, or null when none is sent (forged sender, or no sender address). */
  notice: NoticeKind | null;
}

/**
 * Approves an item: the claimed account goes to the front of the rebuild queue and the sender gets a
 * confirmation.
 *
 * `forged` items may be approved — staff may have verified the customer by telephone — but only the
 * account is queued: nothing is ever sent to a forged From address (SPEC §2.4), the address was chosen
 * by whoever forged it. `not-a-request` items are refused: they claim no account; if a staff member
 * reads one and finds a real request in it, `reassign` names the account.
 */
export async function approve(services: Services, id: string, by: string): Promise<ApproveResult> {
  const record = await openItem(services, id);
  if (record.reason === 'not-a-request') throw new ReviewError('nothing-to-rebuild', id);
  if (!record.account) throw new ReviewError('no-account', id);
  return approveFor(services, record, record.account, by);
}

/**
 * Reassigns an item to another account, which is approving it for that account: the account is
 * recorded on the request (so the completion notice finds this requester) and queued. The history shows
 * a `reassigned` entry (old → new) followed by the approval.
 */
export async function reassign(services: Services, id: string, by: string, accountInput: string): Promise<ApproveResult> {
  const account = normalizeAccount(accountInput);
  if (!account) throw new ReviewError('invalid-account', id);
  const record = await openItem(services, id);
  if (!services.directory.has(account)) throw new ReviewError('unknown-account', id);
  return approveFor(services, record, account, by, { action: 'reassigned', detail: `${record.account ?? '(none)'} → ${account}` });
}

export interface RejectResult {
  notice: 'rejected' | null;
}

/**
 * Rejects an item and tells the sender, with the staff member's message if any. No reply for `forged`
 * (never reply to a forged address) nor `not-a-request` (the sender did not ask for anything, and a
 * reply to arbitrary mail would make the bot a reflector).
 */
export async function reject(services: Services, id: string, by: string, message?: string): Promise<RejectResult> {
  const record = await openItem(services, id);
  const staffMessage = message?.trim().slice(0, MAX_STAFF_MESSAGE) || undefined;
  const replies = mayBeAnswered(record);
  const detail = [staffMessage ? `message: ${staffMessage}` : 'no message', replies ? 'rejected notice sent' : 'no reply (sender not answered for this reason)'].join('; ');
  await claim(services, id, 'rejected', by, detail);
  if (!replies) return { notice: null };
  await actOrReopen(services, record, by, async () => {
    await services.notices.send({
      kind: 'rejected',
      requestId: id,
      to: record.from,
      account: record.account,
      originalSubject: record.subject,
      originalMessageId: record.messageId,
      ...(staffMessage ? { staffMessage } : {}),
    });
  });
  return { notice: 'rejected' };
}

async function approveFor(
  services: Services,
  record: RequestRecord,
  account: string,
  by: string,
  how: { action: string; detail: string } = { action: 'approved', detail: `account ${account}` },
): Promise<ApproveResult> {
  if (!services.directory.has(account)) throw new ReviewError('unknown-account', record.id);
  const replies = mayBeAnswered(record);
  await claim(services, record.id, 'approved', by, how.detail, account, how.action);
  return actOrReopen(services, record, by, async () => {
    const outcome = await services.rebuilds.prioritize(account, 'staff');
    const { position } = await services.rebuilds.status(account);
    const estimateMinutes = await services.rebuilds.estimateMinutes(position);
    const notice = replies ? noticeFor(outcome) : null;
    if (notice) {
      await services.notices.send({
        kind: notice,
        requestId: record.id,
        to: record.from,
        account,
        originalSubject: record.subject,
        originalMessageId: record.messageId,
        ...(position !== null ? { position } : {}),
        ...(estimateMinutes !== undefined ? { estimateMinutes } : {}),
      });
    }
    const where = position !== null ? `, position ${position}` : '';
    await services.requests.addHistory(record.id, {
      at: Date.now(),
      by,
      action: 'queued',
      detail: `${account}: ${outcome}${where}; ${notice ? `${notice} notice sent` : `no reply (${record.reason === 'forged' ? 'the sender failed authentication' : record.reason === 'not-a-request' ? 'the sender was never authenticated' : 'no sender address'})`}`,
    });
    return { account, outcome, position, notice };
  });
}

/** The same replies the bot gives a verified request (SPEC §2.4): confirmation, unless it is already running or done. */
function noticeFor(outcome: PrioritizeOutcome): NoticeKind {
  switch (outcome) {
    case 'rebuilding':
      return 'in-progress';
    case 'done':
      return 'already-done';
    default:
      return 'confirmation';
  }
}

async function openItem(services: Services, id: string): Promise<RequestRecord> {
  const record = await services.requests.get(id);
  if (!record) throw new ReviewError('not-found', id);
  if (record.review !== 'open') throw new ReviewError('not-open', id);
  return record;
}

/**
 * Staff decisions are answered only where the bot would have answered: never a forged sender, and never
 * the sender of mail that was not a request, whose address was never authenticated.
 */
function mayBeAnswered(record: RequestRecord): boolean {
  return record.reason !== 'forged' && record.reason !== 'not-a-request' && isReplyableAddress(record.from);
}

async function claim(services: Services, id: string, status: 'approved' | 'rejected', by: string, detail: string, account?: string, action: string = status): Promise<void> {
  const claimed = await services.requests.resolveReview(id, status, { at: Date.now(), by, action, detail }, account);
  if (!claimed) throw new ReviewError('not-open', id);
}

async function actOrReopen<T>(services: Services, record: RequestRecord, by: string, act: () => Promise<T>): Promise<T> {
  try {
    return await act();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    await services.requests
      .openReview(record.id, record.reason as ReviewReason, { at: Date.now(), by, action: 'reopened', detail: `the action failed and was undone: ${reason}` })
      .catch((reopenErr: unknown) => services.log.error({ err: reopenErr, requestId: record.id }, 'could not reopen a review item after a failed action'));
    throw err;
  }
}
