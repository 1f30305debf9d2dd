import type { AccountState } from '../queue/account-state';
import type { NoticeKind } from '../notify/notice';
import type { AutomaticRule, Classification } from './classify';
import type { AccountClaim } from './extract';

/**
 * The decision table of SPEC §2.4 as a pure function: every verdict is a value that is recorded on the
 * request, so staff can see why the bot did what it did. Nothing here touches Redis.
 */

export type ReviewReason =
  | 'not-a-request'
  | 'no-account'
  | 'unknown-account'
  | 'ambiguous'
  | 'not-entitled'
  | 'forged'
  | 'rebuild-failed';

export type RateLimit = 'within' | 'first-over' | 'over';

export type Decision =
  | { kind: 'ignore'; reason: 'automatic'; rule: AutomaticRule }
  | { kind: 'forward'; reason: 'not-a-request' }
  | { kind: 'review'; reason: ReviewReason; account: string | null; reply: NoticeKind | null }
  | { kind: 'rate-limited'; reason: 'rate-limited'; account: string | null; reply: 'rate-limited' | null }
  | { kind: 'prioritize'; reason: 'verified'; account: string; reply: 'confirmation' }
  | { kind: 'unchanged'; reason: 'verified'; account: string; state: AccountState; reply: 'already-queued' | 'in-progress' | 'already-done' };

export interface DecideInput {
  classification: Classification;
  /** FORWARD_TO is set. */
  forwarding: boolean;
  /** Only for requests. */
  rateLimit?: RateLimit;
  claim?: AccountClaim;
  /** False when the From address failed authentication (AUTH_MODE): treated as forged. */
  authentic?: boolean;
  /** Only when the claim names one account: the From address may ask for it. */
  entitled?: boolean;
  /** Only when verified. */
  accountState?: AccountState;
}

export function decide(input: DecideInput): Decision {
  const { classification } = input;
  if (classification.kind === 'automatic') return { kind: 'ignore', reason: 'automatic', rule: classification.rule };
  if (classification.kind === 'other') {
    return input.forwarding
      ? { kind: 'forward', reason: 'not-a-request' }
      : { kind: 'review', reason: 'not-a-request', account: null, reply: null };
  }

  const claim = required(input.claim, 'claim');
  const claimed = claim.kind === 'one' ? claim.account : null;
  // Never reply to a forged address: the reply would go to whoever the forger chose (SPEC §2.4). This
  // comes before the rate limit, whose notice is a reply too.
  if (required(input.authentic, 'authentic') === false) return { kind: 'review', reason: 'forged', account: claimed, reply: null };
  if (input.rateLimit === 'first-over' || input.rateLimit === 'over') {
    return { kind: 'rate-limited', reason: 'rate-limited', account: claimed, reply: input.rateLimit === 'first-over' ? 'rate-limited' : null };
  }

  switch (claim.kind) {
    case 'none':
      return { kind: 'review', reason: 'no-account', account: null, reply: 'need-account' };
    case 'unknown':
      return { kind: 'review', reason: 'unknown-account', account: claim.candidates[0] ?? null, reply: 'unknown-account' };
    case 'several':
      return { kind: 'review', reason: 'ambiguous', account: null, reply: 'pending-review' };
    case 'one':
      break;
  }

  const account = claim.account;
  if (!required(input.entitled, 'entitled')) return { kind: 'review', reason: 'not-entitled', account, reply: 'pending-review' };

  const state = required(input.accountState, 'accountState');
  switch (state) {
    case 'none':
    case 'queued':
    case 'failed': // the customer is still waiting: a failed rebuild is worth another try at the front
      return { kind: 'prioritize', reason: 'verified', account, reply: 'confirmation' };
    case 'prioritized':
      return { kind: 'unchanged', reason: 'verified', account, state, reply: 'already-queued' };
    case 'rebuilding':
      return { kind: 'unchanged', reason: 'verified', account, state, reply: 'in-progress' };
    case 'done':
      return { kind: 'unchanged', reason: 'verified', account, state, reply: 'already-done' };
  }
}

function required<T>(value: T | undefined, name: string): T {
  if (value === undefined) throw new Error(`decide: ${name} is required at this step`);
  return value;
}

/** The review reason or the automatic rule, for records, metrics and the review list. */
export function decisionReason(decision: Decision): string {
  return decision.kind === 'ignore' ? `automatic:${decision.rule}` : decision.reason;
}
