/**
 * Is the From address genuine? (SPEC §2.3, AUTH_MODE). Entitlement — may this address ask for this
 * account — is the directory's job (accounts/directory.ts); this file only answers authenticity.
 */

export interface AuthContext {
  raw: Buffer;
  /** From address, lower-cased. */
  from: string;
  envelopeFrom: string;
  remoteAddress: string;
  helo: string;
}

export interface AuthVerdict {
  /** False means the From address is treated as forged: review, no reply, no rebuild. */
  authentic: boolean;
  /** One line for staff, e.g. "dmarc=pass (p=reject) dkim=pass spf=pass". */
  summary: string;
}

export type Authenticator = (ctx: AuthContext) => Promise<AuthVerdict>;

export type AuthMode = 'off' | 'trust-header' | 'verify';

/** `off` trusts headers as they are: for development and for setups behind a filtering MTA. */
export const trustEverything: Authenticator = async () => ({ authentic: true, summary: 'not checked (AUTH_MODE=off)' });

export function createAuthenticator(mode: AuthMode, _options: { trustedAuthservId?: string }): Authenticator {
  switch (mode) {
    case 'off':
      return trustEverything;
    default:
      throw new Error(`AUTH_MODE=${mode} is not available yet`);
  }
}
