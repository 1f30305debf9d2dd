import type { ParsedMessage } from './parse';

/** CONTRACT (implementation pending). SPEC §2.2. */

export type AccountClaim =
  | { kind: 'one'; account: string; source: 'named' | 'sender' }
  | { kind: 'none' }
  | { kind: 'unknown'; candidates: string[] }
  | { kind: 'several'; accounts: string[] };

export interface ExtractContext {
  defaultDomain: string;
  /** Addresses never taken as a candidate (our own intake and From addresses). */
  ownAddresses: readonly string[];
  /** Directory membership, case-insensitive. */
  exists(account: string): boolean;
}

/** Every normalised, pattern-valid candidate named in the subject and the body's own text, in order, unique. */
export function extractCandidates(_msg: Pick<ParsedMessage, 'subject' | 'text'>, _ctx: Pick<ExtractContext, 'defaultDomain' | 'ownAddresses'>): string[] {
  throw new Error('not implemented');
}

/** Candidates + sender → the account this request is about (SPEC §2.2 last paragraph). */
export function claimAccount(_msg: Pick<ParsedMessage, 'subject' | 'text' | 'from'>, _ctx: ExtractContext): AccountClaim {
  throw new Error('not implemented');
}
