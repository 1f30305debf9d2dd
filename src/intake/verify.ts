import { authenticate, type AuthenticateResult, type DNSResolver } from 'mailauth';
import { hostname } from 'node:os';

// mailauth's alignment helper (public suffix list aware); it is not in the package's type definitions.
const { getAlignment } = require('mailauth/lib/tools') as { getAlignment(fromDomain: string, domains: string[]): { domain: string } | false };

/**
 * Is the From address genuine? (SPEC §2.3, AUTH_MODE). Entitlement — may this address ask for this
 * account — is the directory's job (accounts/directory.ts); this file only answers authenticity.
 *
 * - `off`: trusts the From header as written (development, or a filtering MTA in front).
 * - `verify`: checks SPF, DKIM and DMARC itself with mailauth, from the SMTP session's connecting IP,
 *   HELO and envelope sender. Authentic when DMARC passes, i.e. SPF or DKIM passed for a domain aligned
 *   with From (RFC 7489 §3.1). When the From domain publishes no DMARC record, the same alignment test
 *   is applied anyway (relaxed, as DMARC's default): an aligned DKIM or SPF pass counts, anything else
 *   does not. Without that rule every customer of a provider with no DMARC record could be impersonated.
 * - `trust-header`: believes the `Authentication-Results` header our own MTA put on top (RFC 8601),
 *   and nothing else (see readTrustedResults).
 *
 * A DNS failure (temperror) is not a verdict: it throws, so the sender's MTA is told 451 and retries,
 * rather than a genuine customer's request being filed as forged.
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
  /** One line for staff, e.g. "dmarc=pass (p=REJECT) dkim=pass (example.com) spf=pass (example.com)". */
  summary: string;
}

export type Authenticator = (ctx: AuthContext) => Promise<AuthVerdict>;

export type AuthMode = 'off' | 'trust-header' | 'verify';

export type { DNSResolver };

export interface AuthenticatorOptions {
  /** TRUSTED_AUTHSERV_ID: the authserv-id of our own MTA's Authentication-Results (trust-header). */
  trustedAuthservId?: string;
  /** DNS lookups for `verify`; node's resolver when unset. Tests serve keys and policies from memory. */
  resolver?: DNSResolver;
}

/** Thrown when DNS could not answer: the message is not judged, the sender's MTA retries (451). */
export class AuthTemporaryError extends Error {
  override readonly name = 'AuthTemporaryError';
}

/** `off` trusts headers as they are: for development and for setups behind a filtering MTA. */
export const trustEverything: Authenticator = async () => ({ authentic: true, summary: 'not checked (AUTH_MODE=off)' });

export function createAuthenticator(mode: AuthMode, options: AuthenticatorOptions = {}): Authenticator {
  switch (mode) {
    case 'off':
      return trustEverything;
    case 'verify':
      return (ctx) => verifyMessage(ctx, options);
    case 'trust-header': {
      const id = options.trustedAuthservId;
      if (!id) throw new Error('AUTH_MODE=trust-header needs TRUSTED_AUTHSERV_ID');
      return async (ctx) => trustHeader(ctx, id);
    }
  }
}

async function verifyMessage(ctx: AuthContext, options: AuthenticatorOptions): Promise<AuthVerdict> {
  if (!ctx.from) return { authentic: false, summary: 'no From address to authenticate' };
  const result = await authenticate(ctx.raw, {
    ip: ctx.remoteAddress,
    helo: ctx.helo || undefined,
    sender: ctx.envelopeFrom,
    mta: options.trustedAuthservId ?? hostname(),
    resolver: options.resolver,
    disableArc: true,
    disableBimi: true,
  });
  return judge(result, ctx.from);
}

type DkimRow = AuthenticateResult['dkim']['results'][number];

function judge(result: AuthenticateResult, from: string): AuthVerdict {
  const fromDomain = domainOf(from);
  const dkimRows: DkimRow[] = result.dkim?.results ?? [];
  const dkimPass = dkimRows.filter((r) => r.status.result === 'pass');
  const alignedDkim = dkimPass.find((r) => Boolean(r.status.aligned));
  const spf = result.spf || null;
  const spfPass = spf?.status.result === 'pass' ? spf.domain : null;
  const alignedSpf = spfPass !== null && sameOrganization(spfPass, fromDomain);
  const dmarc = result.dmarc || null;

  const summary = [
    dmarc ? `dmarc=${dmarc.status.result}${dmarc.status.comment ? ` (${dmarc.status.comment})` : ''}` : 'dmarc=none',
    dkimRows.length === 0 ? 'dkim=none' : dkimRows.map((r) => `dkim=${r.status.result} (${r.signingDomain}${r.status.aligned ? ', aligned' : ''})`).join(' '),
    `spf=${spf?.status.result ?? 'none'}${spf?.domain ? ` (${spf.domain}${alignedSpf ? ', aligned' : ''})` : ''}`,
  ].join(' ');

  // mailauth judges the From header it found; the flow acts on the one parse.ts found. Several From
  // addresses, or a different one, would let a signature for one domain vouch for another.
  const headerFrom = result.dkim?.headerFrom ?? [];
  if (headerFrom.length !== 1 || headerFrom[0].toLowerCase() !== from) {
    return { authentic: false, summary: `${summary}; From header is not one single address` };
  }

  const temporary = dmarc?.status.result === 'temperror' || (!alignedDkim && !alignedSpf && (dkimRows.some((r) => isTemporary(r.status.result)) || isTemporary(spf?.status.result)));
  if (temporary) throw new AuthTemporaryError(`authentication could not be completed (DNS): ${summary}`);

  switch (dmarc?.status.result) {
    case 'pass':
      return { authentic: true, summary };
    case 'none':
    case undefined:
      // No DMARC record: an aligned pass still proves the domain sent it (see the comment on top).
      return alignedDkim || alignedSpf ? { authentic: true, summary: `${summary}; no DMARC record, aligned ${alignedDkim ? 'DKIM' : 'SPF'} pass` } : { authentic: false, summary: `${summary}; no DMARC record and no aligned pass` };
    default:
      return { authentic: false, summary };
  }
}

function isTemporary(result: string | undefined): boolean {
  return result === 'temperror' || result === 'temperr';
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/**
 * Relaxed alignment (RFC 7489 §3.1.2): the same organizational domain. mailauth applies the public
 * suffix list for its own DKIM alignment; the SPF side uses the same function.
 */
function sameOrganization(a: string, b: string): boolean {
  return Boolean(getAlignment(b, [a]));
}

/**
 * trust-header: RFC 8601 §5 — an MTA adds its Authentication-Results at the top and must remove or
 * ignore ones claiming its own authserv-id further down, because anybody can write such a header into
 * a message before sending it. So only the FIRST Authentication-Results header of the message is read,
 * and only when its authserv-id is ours; any header below it (the sender's own, forged or not) is
 * ignored, and a first one with another authserv-id means our MTA did not vouch for the message.
 */
function trustHeader(ctx: AuthContext, trustedId: string): AuthVerdict {
  const header = firstAuthenticationResults(ctx.raw);
  if (header === null) return { authentic: false, summary: `no Authentication-Results from ${trustedId}` };
  const parsed = parseAuthenticationResults(header);
  const shown = printable(header);
  if (parsed.authservId.toLowerCase() !== trustedId.toLowerCase()) {
    return { authentic: false, summary: `topmost Authentication-Results is from ${JSON.stringify(printable(parsed.authservId))}, not ${trustedId}: ignored` };
  }
  const dmarc = parsed.results.find((r) => r.method === 'dmarc');
  if (dmarc?.result !== 'pass') return { authentic: false, summary: `${trustedId}: ${shown}` };
  // A pass for another From domain (header.from=) vouches for nothing here.
  const headerFrom = dmarc.properties.get('header.from');
  if (headerFrom && ctx.from && !sameOrganization(headerFrom, domainOf(ctx.from))) {
    return { authentic: false, summary: `${trustedId}: dmarc=pass for ${headerFrom}, not the From domain ${domainOf(ctx.from)}` };
  }
  return { authentic: true, summary: `${trustedId}: ${shown}` };
}

/** Header section read for trust-header; the listener already refuses bigger ones (SMTP_MAX_HEADER_SIZE). */
const MAX_HEADER_SCAN_BYTES = 1024 * 1024;

/** The unfolded value of the first Authentication-Results header, or null. */
export function firstAuthenticationResults(raw: Buffer): string | null {
  const head = raw.subarray(0, MAX_HEADER_SCAN_BYTES).toString('latin1');
  const end = head.search(/\r?\n\r?\n/);
  const lines = (end >= 0 ? head.slice(0, end) : head).split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const match = /^authentication-results[ \t]*:(.*)$/i.exec(lines[i]);
    if (!match) continue;
    let value = match[1];
    for (let j = i + 1; j < lines.length && /^[ \t]/.test(lines[j]); j++) value += ` ${lines[j].trim()}`;
    return value.trim();
  }
  return null;
}

interface ResultInfo {
  method: string;
  result: string;
  properties: Map<string, string>;
}

/** RFC 8601 §2.2, leniently: `authserv-id [version]; method=result (comment) ptype.prop=value; …`. */
export function parseAuthenticationResults(value: string): { authservId: string; results: ResultInfo[] } {
  const [idPart = '', ...infos] = stripComments(value).split(';');
  const authservId = idPart.trim().split(/\s+/)[0] ?? '';
  const results: ResultInfo[] = [];
  for (const info of infos) {
    const tokens = info.trim().split(/\s+/).filter(Boolean);
    const first = /^([A-Za-z0-9_-]+)(?:\/[0-9]+)?=([A-Za-z]+)$/.exec(tokens[0] ?? '');
    if (!first) continue;
    const properties = new Map<string, string>();
    for (const token of tokens.slice(1)) {
      const eq = token.indexOf('=');
      if (eq > 0) properties.set(token.slice(0, eq).toLowerCase(), token.slice(eq + 1).replace(/^"|"$/g, '').toLowerCase());
    }
    results.push({ method: first[1].toLowerCase(), result: first[2].toLowerCase(), properties });
  }
  return { authservId, results };
}

function stripComments(value: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && (quoted || depth > 0)) {
      i++;
      continue;
    }
    if (depth === 0 && c === '"') quoted = !quoted;
    if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')' && depth > 0) depth--;
    else if (depth === 0) out += c;
  }
  return out;
}

/** The summary is shown to staff: no control characters, bounded length. */
function printable(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return clean.length > 300 ? `${clean.slice(0, 300)}…` : clean;
}
