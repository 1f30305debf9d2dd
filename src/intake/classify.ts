import type { ParsedMessage } from './parse';

/** CONTRACT (implementation pending). SPEC §2.1. */

/** Our own loop marker: every message the bot sends carries it, and any message carrying it is ignored. */
export const LOOP_HEADER = 'X-Rebuild-Desk-Loop';

export type AutomaticRule =
  | 'auto-submitted'
  | 'precedence'
  | 'list-header'
  | 'null-sender'
  | 'daemon-sender'
  | 'own-address'
  | 'loop-marker';

export type Classification =
  | { kind: 'automatic'; rule: AutomaticRule }
  | { kind: 'request' }
  | { kind: 'other' };

export interface ClassifyContext {
  /** Envelope MAIL FROM, lower-cased; '' for the null sender `<>`. */
  envelopeFrom: string;
  /** INTAKE_ADDRESSES and FROM_ADDRESS, lower-cased. */
  ownAddresses: readonly string[];
}

export function classify(_msg: ParsedMessage, _ctx: ClassifyContext): Classification {
  throw new Error('not implemented');
}
