/** Types for scripts/hostile-corpus.js (plain JavaScript, so it also runs with `node` alone). */
export interface HostileMessage {
  name: string;
  raw: Buffer;
  /** RCPT commands to send for it; 1 when absent. */
  recipients?: number;
}
export function handCrafted(): HostileMessage[];
export function mutations(seed: number, count: number): Generator<HostileMessage>;
export const OPERATOR_NAMES: string[];
