/** CONTRACT (implementation pending). SPEC §2.3. */
export type Verification =
  | { kind: 'verified'; auth: string }
  | { kind: 'not-entitled'; auth: string }
  | { kind: 'forged'; auth: string };
