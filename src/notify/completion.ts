import type { NoticeQueue } from '../queue/notice-queue';
import type { RequestRecord, RequestStore } from '../requests/request-store';
import { isReplyableAddress, type NoticeKind } from './notice';

/**
 * What a finished or failed rebuild tells the people who asked for it (SPEC §2.4, last two rows).
 *
 * Only entitled requesters are told: those whose request was verified (decision `prioritize` or
 * `unchanged`) or approved by staff. Someone who merely claimed the account, or was refused, learns
 * nothing about it. Each sender is told once, under the id of their first request, and the job id is
 * that request id and the kind: a rebuild retried or a worker restarted mid-way never sends it twice.
 */

export interface CompletionDeps {
  requests: RequestStore;
  notices: NoticeQueue;
}

/** Queues the `completed` notice for every entitled requester of the account; returns how many. */
export async function notifyCompleted(account: string, deps: CompletionDeps): Promise<number> {
  const { firstPerSender } = await entitledRequests(account, deps.requests);
  await queueAll('completed', firstPerSender, account, deps.notices);
  return firstPerSender.length;
}

/**
 * Queues `delayed` for the same requesters and opens a `rebuild-failed` review item on the newest of
 * their requests, so staff see the failure where they already work. An account nobody asked for (it came
 * from the backlog) has nobody to tell: operators see it in the rebuild queue and metrics instead.
 */
export async function notifyFailed(account: string, deps: CompletionDeps, detail: string): Promise<number> {
  const { all, firstPerSender } = await entitledRequests(account, deps.requests);
  const newest = all.at(-1);
  if (!newest) return 0;
  await queueAll('delayed', firstPerSender, account, deps.notices);
  await deps.requests.openReview(newest.id, 'rebuild-failed', { at: Date.now(), by: 'bot', action: 'rebuild-failed', detail });
  return firstPerSender.length;
}

async function entitledRequests(account: string, requests: RequestStore): Promise<{ all: RequestRecord[]; firstPerSender: RequestRecord[] }> {
  const ids = await requests.requestIdsForAccount(account); // oldest first
  const all = (await requests.getMany(ids)).filter((r) => isEntitled(r, account));
  const seen = new Set<string>();
  const firstPerSender = all.filter((r) => {
    const sender = r.from.toLowerCase();
    if (seen.has(sender)) return false;
    seen.add(sender);
    return true;
  });
  return { all, firstPerSender };
}

function isEntitled(record: RequestRecord, account: string): boolean {
  if (!isReplyableAddress(record.from)) return false; // nobody to answer
  // Staff may have reassigned the request to another account since it claimed this one.
  if (record.account?.toLowerCase() !== account.toLowerCase()) return false;
  // A forged sender is never written to (SPEC §5), even after staff queued the account by other means;
  // nor the sender of mail that was not a request, whose address was never authenticated.
  if (record.decision.kind === 'review' && (record.decision.reason === 'forged' || record.decision.reason === 'not-a-request')) return false;
  const kind = record.decision.kind;
  return kind === 'prioritize' || kind === 'unchanged' || record.review === 'approved';
}

async function queueAll(kind: Extract<NoticeKind, 'completed' | 'delayed'>, records: RequestRecord[], account: string, notices: NoticeQueue): Promise<void> {
  for (const record of records) {
    await notices.send({
      kind,
      requestId: record.id,
      to: record.from,
      account,
      originalSubject: record.subject,
      originalMessageId: record.messageId,
    });
  }
}
