import type { Redis } from 'ioredis';
import type { AccountLookup } from '../accounts/directory';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { NoticeQueue } from '../queue/notice-queue';
import type { RebuildQueue } from '../queue/rebuild-queue';
import type { NewRequest, RequestRecord, RequestStore } from '../requests/request-store';
import { act } from './act';
import { classify, type Classification } from './classify';
import { decide, decisionReason, type Decision, type DecideInput } from './decide';
import { claimAccount } from './extract';
import { parseMessage, type ParsedMessage } from './parse';
import { countRequest, type RateLimits } from './rate-limit';
import type { Authenticator } from './verify';

export interface Envelope {
  /** MAIL FROM, lower-cased; '' for the null sender. */
  from: string;
  to: string[];
  remoteAddress: string;
  helo: string;
}

export interface IntakeSettings {
  prefix: string;
  defaultDomain: string;
  /** INTAKE_ADDRESSES and FROM_ADDRESS: never a candidate, never a sender we answer. */
  ownAddresses: readonly string[];
  forwardTo?: string;
  rateLimits: RateLimits;
}

export interface IntakeDeps {
  settings: IntakeSettings;
  redis: Redis;
  directory: AccountLookup;
  requests: RequestStore;
  rebuilds: RebuildQueue;
  notices: NoticeQueue;
  authenticate: Authenticator;
  metrics: Metrics;
  log: Logger;
}

export interface Outcome {
  id: string;
  decision: Decision;
  duplicate: boolean;
}

/**
 * THE FLOW (SPEC §2): parse → classify → extract → verify → decide → store → act.
 *
 * The request is stored, raw message and decision together, before anything is acted on, and the
 * caller answers 250 only when this resolves: anything that throws becomes 451 and the sender's MTA
 * retries. A retried or re-delivered message finds its stored request and only finishes acting on it.
 */
export async function handleMessage(raw: Buffer, envelope: Envelope, deps: IntakeDeps): Promise<Outcome> {
  const msg = await parseMessage(raw);
  const from = msg.from?.address ?? '';
  const classification = classify(msg, { envelopeFrom: envelope.from, ownAddresses: deps.settings.ownAddresses });
  const input: Assessment = classification.kind === 'request' ? await assessRequest(msg, raw, envelope, deps) : { authSummary: '' };
  const decision = decide({ classification, forwarding: Boolean(deps.settings.forwardTo), ...input });

  const request: NewRequest = {
    received: Date.now(),
    envelopeFrom: envelope.from,
    envelopeTo: envelope.to,
    remoteAddress: envelope.remoteAddress,
    helo: envelope.helo,
    messageId: msg.messageId,
    from,
    subject: msg.subject,
    classification: label(classification),
    account: 'account' in decision ? decision.account : null,
    decision,
    auth: input.authSummary,
    text: msg.text,
    headerBlock: msg.headerBlock,
  };
  const stored = await deps.requests.create(request, raw);
  // A new request is exactly what was just written; only a re-delivery has to read what was stored before.
  const record = stored.duplicate ? await deps.requests.get(stored.id) : newRecord(stored.id, request);
  if (!record) throw new Error(`request ${stored.id} vanished after it was stored`);
  if (!record.acted) {
    await act(record, deps);
    await deps.requests.markActed(record.id);
  }

  if (!stored.duplicate) {
    deps.metrics.requests.inc({ decision: decision.kind, reason: decisionReason(decision) });
    if (decision.kind === 'ignore') deps.metrics.automaticSuppressed.inc({ rule: decision.rule });
  }
  deps.log.info({ request: record.id, decision: record.decision.kind, reason: record.reason, account: record.account, duplicate: stored.duplicate }, 'message handled');
  return { id: record.id, decision: record.decision, duplicate: stored.duplicate };
}

type Assessment = Omit<DecideInput, 'classification' | 'forwarding'> & { authSummary: string };

/** Extract → verify → rate limit → the account's state: everything decide() needs about a request. */
async function assessRequest(msg: ParsedMessage, raw: Buffer, envelope: Envelope, deps: IntakeDeps): Promise<Assessment> {
  const { directory, settings } = deps;
  const from = msg.from?.address ?? '';
  const claim = claimAccount(msg, { defaultDomain: settings.defaultDomain, ownAddresses: settings.ownAddresses, exists: (a) => directory.has(a) });
  const account = claim.kind === 'one' ? claim.account : null;
  const entitled = account !== null && from !== '' && directory.isEntitled(account, from);
  const auth = await deps.authenticate({ raw, from, envelopeFrom: envelope.from, remoteAddress: envelope.remoteAddress, helo: envelope.helo });
  // Only what can be trusted is counted: a forged From must not use up its victim's allowance, and only
  // an entitled sender counts against the account's, or a stranger writing five times an hour would
  // keep its owner out of the priority queue. Independent look-ups are sent together.
  const [rateLimit, accountState] = await Promise.all([
    auth.authentic ? countRequest(deps.redis, settings.prefix, { sender: from || envelope.from, account: entitled ? account : null }, settings.rateLimits) : ('within' as const),
    account && entitled ? deps.rebuilds.status(account).then((s) => s.state) : undefined,
  ]);
  return { claim, rateLimit, authentic: auth.authentic, entitled, accountState, authSummary: auth.summary };
}

function newRecord(id: string, request: NewRequest): RequestRecord {
  const review = request.decision.kind === 'review' ? 'open' : null;
  return { ...request, id, messageId: request.messageId || null, reason: decisionReason(request.decision), review, acted: false };
}

function label(classification: Classification): string {
  return classification.kind === 'automatic' ? `automatic:${classification.rule}` : classification.kind;
}
