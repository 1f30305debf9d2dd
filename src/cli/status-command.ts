import { normalizeAccount } from '../accounts/account-name';
import type { RebuildQueue } from '../queue/rebuild-queue';
import type { RequestStore } from '../requests/request-store';

export interface StatusReport {
  account: string;
  state: string;
  position: number | null;
  estimateMinutes: number | null;
  requests: { id: string; received: string; decision: string; reason: string; from: string }[];
}

/** `status ACCOUNT`: one JSON object (SPEC §4.1). A bare name gets DEFAULT_DOMAIN, as in requests. */
export async function accountStatus(input: string, defaultDomain: string, rebuilds: RebuildQueue, requests: RequestStore): Promise<StatusReport> {
  const account = normalizeAccount(input.includes('@') ? input : `${input}@${defaultDomain}`);
  if (!account) throw new Error(`not a valid account name: ${JSON.stringify(input)}`);
  const status = await rebuilds.status(account);
  const records = await requests.getMany(await requests.requestIdsForAccount(account));
  return {
    account,
    state: status.state,
    position: status.position,
    estimateMinutes: (await rebuilds.estimateMinutes(status.position)) ?? null,
    requests: records.map((r) => ({ id: r.id, received: new Date(r.received).toISOString(), decision: r.decision.kind, reason: r.reason, from: r.from })),
  };
}
