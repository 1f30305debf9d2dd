/** The product's states for an account (SPEC §3). */
export const ACCOUNT_STATES = ['none', 'queued', 'prioritized', 'rebuilding', 'done', 'failed'] as const;
export type AccountState = (typeof ACCOUNT_STATES)[number];
