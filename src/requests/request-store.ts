import { createHash, randomInt } from 'node:crypto';
import type { Redis } from 'ioredis';
import { decisionReason, type Decision, type ReviewReason } from '../intake/decide';

/**
 * Requests, review items and their history in Redis, every key under `<prefix>:`.
 *
 *   req:<id>              hash   the request (see RequestRecord)
 *   req:<id>:raw          string the raw message, apart so lists never load it
 *   req:<id>:history      list   JSON history entries, oldest first
 *   dedupe:<sha256>       string request id for a Message-ID + From (SPEC §5: delivered twice = one request)
 *   requests              zset   every request id by time received
 *   review:open           zset   open review items by time received
 *   review:all            zset   every review item ever, open or resolved
 *   account:<acct>:requests zset request ids that claimed this account
 *
 * A request is written in one script, so it is either wholly there or not at all before 250 is sent.
 */

export type ReviewStatus = 'open' | 'approved' | 'rejected';

export interface NewRequest {
  received: number;
  envelopeFrom: string;
  envelopeTo: string[];
  remoteAddress: string;
  helo: string;
  messageId: string | null;
  from: string;
  subject: string;
  classification: string;
  account: string | null;
  decision: Decision;
  auth: string;
  /** Extracted text and header block, capped by the parser; shown to staff. */
  text: string;
  headerBlock: string;
}

export interface RequestRecord extends NewRequest {
  id: string;
  reason: string;
  review: ReviewStatus | null;
  /** The queue and notice side effects of the decision were carried out. */
  acted: boolean;
}

export interface HistoryEntry {
  at: number;
  /** 'bot' or a staff login. */
  by: string;
  action: string;
  detail?: string;
}

export interface ReviewQuery {
  reason?: string;
  /** Substring of the claimed account or the sender, case-insensitive. */
  search?: string;
  status?: 'open' | 'all';
  offset?: number;
  limit?: number;
}

const ID_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford base32: no I, L, O, U to misread

export function newRequestId(): string {
  let id = 'R-';
  for (let i = 0; i < 6; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

export function dedupeKey(messageId: string | null, from: string, raw: Buffer): string {
  const hash = createHash('sha256');
  // Keyed on the sender too, so nobody can pre-empt a customer's request by reusing its Message-ID.
  if (messageId) hash.update(`mid\n${messageId}\n${from.toLowerCase()}`);
  else hash.update('raw\n').update(raw);
  return hash.digest('hex');
}

// KEYS: req, raw, history, dedupe, requests, reviewOpen, reviewAll, accountRequests (or '' when none)
// ARGV: id, received, raw, historyEntry, reviewFlag ('1' = review item), then field/value pairs
const CREATE_SCRIPT = `
local existing = redis.call('GET', KEYS[4])
if existing then return {0, existing} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1, ''} end
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('SET', KEYS[2], ARGV[3])
redis.call('RPUSH', KEYS[3], ARGV[4])
redis.call('SET', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[6], ARGV[2], ARGV[1])
  redis.call('ZADD', KEYS[7], ARGV[2], ARGV[1])
end
if KEYS[8] ~= '' then redis.call('ZADD', KEYS[8], ARGV[2], ARGV[1]) end
return {1, ARGV[1]}
`;

// Claims an open review item and records the decision in one step, so an item is never off the open
// list without its decision and history. KEYS: reviewOpen, req, history, accountRequests (or '')
// ARGV: id, status, historyEntry, account (or '')
const RESOLVE_SCRIPT = `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'review', ARGV[2])
redis.call('RPUSH', KEYS[3], ARGV[3])
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[2], 'account', ARGV[4])
  redis.call('ZADD', KEYS[4], redis.call('HGET', KEYS[2], 'received') or 0, ARGV[1])
end
return 1
`;

export class RequestStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  /**
   * Stores a request with its raw message and decision. A message already stored (same Message-ID and
   * From, or the same bytes when it has no Message-ID) returns the existing id with `duplicate: true`.
   */
  async create(request: NewRequest, raw: Buffer): Promise<{ id: string; duplicate: boolean }> {
    const dedupe = this.key('dedupe', dedupeKey(request.messageId, request.from, raw));
    const reason = decisionReason(request.decision);
    const isReview = request.decision.kind === 'review';
    for (let attempt = 0; attempt < 5; attempt++) {
      const id = newRequestId();
      const fields: Record<string, string> = {
        id,
        received: String(request.received),
        envelopeFrom: request.envelopeFrom,
        envelopeTo: JSON.stringify(request.envelopeTo),
        remoteAddress: request.remoteAddress,
        helo: request.helo,
        messageId: request.messageId ?? '',
        from: request.from,
        subject: request.subject,
        classification: request.classification,
        account: request.account ?? '',
        decision: JSON.stringify(request.decision),
        reason,
        auth: request.auth,
        text: request.text,
        headerBlock: request.headerBlock,
        review: isReview ? 'open' : '',
        acted: '0',
      };
      const history: HistoryEntry = { at: request.received, by: 'bot', action: 'received', detail: `${request.decision.kind}: ${reason}` };
      const result = (await this.redis.eval(
        CREATE_SCRIPT,
        8,
        this.key('req', id),
        this.key('req', id, 'raw'),
        this.key('req', id, 'history'),
        dedupe,
        this.key('requests'),
        this.key('review', 'open'),
        this.key('review', 'all'),
        request.account ? this.key('account', request.account, 'requests') : '',
        id,
        String(request.received),
        raw,
        JSON.stringify(history),
        isReview ? '1' : '0',
        ...Object.entries(fields).flat(),
      )) as [number, string];
      if (result[0] === 1) return { id, duplicate: false };
      if (result[0] === 0) return { id: result[1], duplicate: true };
    }
    throw new Error('could not allocate a request id after 5 attempts');
  }

  async markActed(id: string): Promise<void> {
    await this.redis.hset(this.key('req', id), 'acted', '1');
  }

  async get(id: string): Promise<RequestRecord | null> {
    const hash = await this.redis.hgetall(this.key('req', id));
    return hash.id ? toRecord(hash) : null;
  }

  async getMany(ids: string[]): Promise<RequestRecord[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.key('req', id));
    const results = (await pipeline.exec()) ?? [];
    return results.flatMap(([err, hash]) => (!err && hash && (hash as Record<string, string>).id ? [toRecord(hash as Record<string, string>)] : []));
  }

  async getRaw(id: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.key('req', id, 'raw'));
  }

  async history(id: string): Promise<HistoryEntry[]> {
    const entries = await this.redis.lrange(this.key('req', id, 'history'), 0, -1);
    return entries.map((e) => JSON.parse(e) as HistoryEntry);
  }

  async addHistory(id: string, entry: HistoryEntry): Promise<void> {
    await this.redis.rpush(this.key('req', id, 'history'), JSON.stringify(entry));
  }

  /** Ids of the requests that claimed an account, oldest first. */
  async requestIdsForAccount(account: string): Promise<string[]> {
    return this.redis.zrange(this.key('account', account, 'requests'), '0', '-1');
  }

  /** Opens a review item on an existing request (a rebuild that failed after its retries). */
  async openReview(id: string, reason: ReviewReason, entry: HistoryEntry): Promise<void> {
    const record = await this.get(id);
    if (!record) throw new Error(`no request ${id}`);
    await this.redis
      .multi()
      .hset(this.key('req', id), 'review', 'open', 'reason', reason)
      .zadd(this.key('review', 'open'), record.received, id)
      .zadd(this.key('review', 'all'), record.received, id)
      .rpush(this.key('req', id, 'history'), JSON.stringify(entry))
      .exec();
  }

  /**
   * Resolves an open review item. Returns false when it was not open (another staff member was
   * quicker): the first decision stands.
   */
  async resolveReview(id: string, status: 'approved' | 'rejected', entry: HistoryEntry, account?: string): Promise<boolean> {
    const resolved = await this.redis.eval(
      RESOLVE_SCRIPT,
      4,
      this.key('review', 'open'),
      this.key('req', id),
      this.key('req', id, 'history'),
      account ? this.key('account', account, 'requests') : '',
      id,
      status,
      JSON.stringify(entry),
      account ?? '',
    );
    return resolved === 1;
  }

  /** Review items, newest first. */
  async listReview(query: ReviewQuery = {}): Promise<{ items: RequestRecord[]; total: number }> {
    const key = this.key('review', query.status === 'all' ? 'all' : 'open');
    const offset = query.offset ?? 0;
    const limit = query.limit ?? 50;
    if (!query.reason && !query.search) {
      const [ids, total] = await Promise.all([this.redis.zrevrange(key, offset, offset + limit - 1), this.redis.zcard(key)]);
      return { items: await this.getMany(ids), total };
    }
    // Filtered: walk the list in pages. Review lists are thousands of items, not millions.
    const search = query.search?.toLowerCase();
    const matches: RequestRecord[] = [];
    let total = 0;
    const page = 500;
    for (let start = 0; ; start += page) {
      const ids = await this.redis.zrevrange(key, start, start + page - 1);
      if (ids.length === 0) break;
      for (const record of await this.getMany(ids)) {
        if (query.reason && record.reason !== query.reason) continue;
        if (search && !record.account?.includes(search) && !record.from.toLowerCase().includes(search) && !record.envelopeFrom.includes(search)) continue;
        if (total >= offset && matches.length < limit) matches.push(record);
        total++;
      }
    }
    return { items: matches, total };
  }

  async countRequests(): Promise<number> {
    return this.redis.zcard(this.key('requests'));
  }
}

function toRecord(hash: Record<string, string>): RequestRecord {
  return {
    id: hash.id,
    received: Number(hash.received),
    envelopeFrom: hash.envelopeFrom ?? '',
    envelopeTo: JSON.parse(hash.envelopeTo || '[]') as string[],
    remoteAddress: hash.remoteAddress ?? '',
    helo: hash.helo ?? '',
    messageId: hash.messageId || null,
    from: hash.from ?? '',
    subject: hash.subject ?? '',
    classification: hash.classification ?? '',
    account: hash.account || null,
    decision: JSON.parse(hash.decision) as Decision,
    reason: hash.reason ?? '',
    auth: hash.auth ?? '',
    text: hash.text ?? '',
    headerBlock: hash.headerBlock ?? '',
    review: (hash.review || null) as ReviewStatus | null,
    acted: hash.acted === '1',
  };
}
