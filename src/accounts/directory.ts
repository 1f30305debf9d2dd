/** CONTRACT (implementation pending). SPEC §4.3. */

export interface AccountEntry {
  account: string;
  /** Other addresses entitled to ask for this account, lower-cased (the account itself always is). */
  addresses: readonly string[];
  server?: string;
}

export interface AccountLookup {
  get(account: string): AccountEntry | undefined;
  has(account: string): boolean;
  /** The account itself or one of its registered addresses. Case-insensitive. */
  isEntitled(account: string, sender: string): boolean;
  readonly size: number;
}
