import { isReplyableAddress, type NoticeData, type NoticeKind } from '../notify/notice';
import { estimateMinutes } from '../queue/rebuild-queue';
import type { RequestRecord } from '../requests/request-store';
import type { IntakeDeps } from './handle-message';
import { firstInWindow } from './rate-limit';

/**
 * Carries out a stored decision: the rebuild queue and the notices queue. Every step is safe to
 * repeat (prioritize is idempotent, a notice's job id is its request id and kind), because a request
 * whose acting was cut short is acted on again when its message is delivered again.
 */
export async function act(record: RequestRecord, deps: Pick<IntakeDeps, 'settings' | 'redis' | 'rebuilds' | 'notices'>): Promise<void> {
  const { decision } = record;
  switch (decision.kind) {
    case 'ignore':
      return; // automatic mail: recorded, counted, never answered (RFC 3834 §2)
    case 'forward':
      if (deps.settings.forwardTo) await deps.notices.send({ kind: 'forward', requestId: record.id, to: deps.settings.forwardTo });
      return;
    case 'review':
    case 'rate-limited':
      if (decision.reply) await reply(record, decision.reply, deps, {});
      return;
    case 'prioritize': {
      await deps.rebuilds.prioritize(decision.account, 'request');
      await reply(record, decision.reply, deps, await whereInLine(decision.account, deps));
      return;
    }
    case 'unchanged': {
      if (decision.reply === 'already-queued') {
        const key = `${deps.settings.prefix}:once:already-queued:${decision.account}:${record.from}`;
        if (!(await firstInWindow(deps.redis, key, deps.settings.rateLimits.windowSeconds))) return;
      }
      await reply(record, decision.reply, deps, decision.reply === 'already-queued' ? await whereInLine(decision.account, deps) : {});
      return;
    }
  }
}

async function whereInLine(account: string, deps: Pick<IntakeDeps, 'rebuilds'>): Promise<Pick<NoticeData, 'position' | 'estimateMinutes'>> {
  // The rate does not depend on the position: both asked at once.
  const [{ position }, rate] = await Promise.all([deps.rebuilds.status(account), deps.rebuilds.ratePerMinute()]);
  if (position === null) return {};
  return { position, estimateMinutes: estimateMinutes(position, rate) };
}

async function reply(
  record: RequestRecord,
  kind: NoticeKind,
  deps: Pick<IntakeDeps, 'notices'>,
  extra: Pick<NoticeData, 'position' | 'estimateMinutes'>,
): Promise<void> {
  if (!isReplyableAddress(record.from)) return; // no usable From address: nobody to answer
  await deps.notices.send({
    kind,
    requestId: record.id,
    to: record.from,
    account: record.account,
    originalSubject: record.subject,
    originalMessageId: record.messageId,
    ...extra,
  });
}
