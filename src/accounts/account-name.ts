/**
 * The strict shape every account name must have before it goes anywhere (SPEC §2.2): letters, digits,
 * `.`, `_`, `-`, `+`, one `@` and a domain. It starts with a letter or digit so that, passed as one argv
 * element, it can never be read as an option by the rebuild command (`-rf@x` would be).
 */
const ACCOUNT_PATTERN = /^[a-z0-9][a-z0-9._+-]{0,63}@[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)*$/;

/** Lower-cases and checks; returns null for anything that is not a valid account name. */
export function normalizeAccount(candidate: string): string | null {
  const lower = candidate.trim().toLowerCase();
  if (lower.length > 254) return null;
  return ACCOUNT_PATTERN.test(lower) ? lower : null;
}

export function isValidAccount(candidate: string): boolean {
  return normalizeAccount(candidate) === candidate;
}
