import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { NOTICE_KINDS, type NoticeData, type NoticeKind } from './notice';

/**
 * templates/ → subject, text and HTML of a notice (SPEC §6). Operators edit the templates without
 * touching code, so everything that can go wrong with them is found by `loadTemplates` at start-up:
 * a missing file, a syntax error, an unknown variable (Handlebars `strict`), a template that no longer
 * shows the request id. A customer never waits on a typo.
 *
 * What the templates see is `TemplateData` and nothing else. The customer's own words never reach a
 * body: an auto-responder that quotes its input is a spam reflector (anyone can forge the sender and
 * have us deliver their text), so `originalSubject` is given to `subject.txt` only; `{{originalSubject}}`
 * in a body template fails at load time.
 */

export interface RenderedNotice {
  subject: string;
  text: string;
  html: string;
}

export interface Templates {
  render(data: NoticeData): RenderedNotice;
}

export interface TemplateData {
  requestId: string;
  /** '' when the request named no account (need-account, some pending-review and rate-limited). */
  account: string;
  position: number | null;
  /** Whole minutes, at least 1, when known. */
  estimateMinutes: number | null;
  staffMessage: string | null;
  hasAccount: boolean;
  hasPosition: boolean;
  hasEstimate: boolean;
  hasStaffMessage: boolean;
}

export const SUBJECT_TEMPLATE = 'subject.txt';

/** A subject longer than this is cut: RFC 5322 §2.1.1 lines stop at 998 characters, readers far sooner. */
const MAX_SUBJECT = 200;
/** An account is checked against a strict pattern upstream; this only keeps a surprise from filling a page. */
const MAX_ACCOUNT = 254;
/** Staff messages are typed in a form; generous, but bounded. */
const MAX_STAFF_MESSAGE = 4000;
const FALLBACK_SUBJECT = 'Priority rebuild';

export class TemplateError extends Error {
  constructor(
    dir: string,
    readonly problems: string[],
  ) {
    super(`templates in ${dir} cannot be used:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'TemplateError';
  }
}

type Compiled = Handlebars.TemplateDelegate;

export async function loadTemplates(dir: string): Promise<Templates> {
  const env = Handlebars.create();
  registerHelpers(env);
  const problems: string[] = [];

  const compile = async (file: string, html: boolean): Promise<Compiled | null> => {
    let source: string;
    try {
      source = await readFile(join(dir, file), 'utf8');
    } catch (err) {
      problems.push(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (err as Error).message}`);
      return null;
    }
    try {
      env.parse(source); // compile() is lazy: parse now so a syntax error names its file at start-up
      return env.compile(source, { strict: true, noEscape: !html });
    } catch (err) {
      problems.push(`${file}: ${oneLine((err as Error).message)}`);
      return null;
    }
  };

  const subject = await compile(SUBJECT_TEMPLATE, false);
  const bodies = new Map<NoticeKind, { text: Compiled; html: Compiled }>();
  for (const kind of NOTICE_KINDS) {
    const text = await compile(`${kind}.txt`, false);
    const html = await compile(`${kind}.html`, true);
    if (text && html) bodies.set(kind, { text, html });
  }

  if (subject) tryRender(problems, SUBJECT_TEMPLATE, () => subject(subjectData(samples('confirmation')[0])), null);
  for (const [kind, body] of bodies) {
    for (const sample of samples(kind)) {
      const data = templateData(sample);
      tryRender(problems, `${kind}.txt`, () => body.text(data), sample.requestId);
      tryRender(problems, `${kind}.html`, () => body.html(data), sample.requestId);
    }
  }
  if (problems.length > 0 || !subject) throw new TemplateError(dir, [...new Set(problems)]);

  return {
    render(notice: NoticeData): RenderedNotice {
      const body = bodies.get(notice.kind);
      if (!body) throw new Error(`no templates for notice kind ${notice.kind}`);
      const data = templateData(notice);
      return {
        subject: oneLine(subject(subjectData(notice))).slice(0, MAX_SUBJECT),
        text: body.text(data),
        html: body.html(data),
      };
    },
  };
}

export function templateData(notice: NoticeData): TemplateData {
  const account = (notice.account ?? '').slice(0, MAX_ACCOUNT);
  const position = isCount(notice.position) ? notice.position : null;
  // Under a minute still reads "about 1 minute": "about 0 minutes" would promise too much.
  const estimateMinutes = isCount(notice.estimateMinutes) || notice.estimateMinutes === 0 ? Math.max(1, Math.ceil(notice.estimateMinutes)) : null;
  const staffMessage = notice.staffMessage?.trim() ? notice.staffMessage.trim().slice(0, MAX_STAFF_MESSAGE) : null;
  return {
    requestId: notice.requestId,
    account,
    position,
    estimateMinutes,
    staffMessage,
    hasAccount: account !== '',
    hasPosition: position !== null,
    hasEstimate: estimateMinutes !== null,
    hasStaffMessage: staffMessage !== null,
  };
}

function subjectData(notice: NoticeData): TemplateData & { originalSubject: string } {
  return { ...templateData(notice), originalSubject: notice.originalSubject };
}

/** `Re: <original>` without doubling a leading "Re:" (or stacking "Re: Re: Re:") from the customer. */
export function replySubject(original: string): string {
  const stripped = oneLine(original).replace(/^(\s*re\s*:\s*)+/i, '').trim();
  return `Re: ${stripped || FALLBACK_SUBJECT}`;
}

function registerHelpers(env: typeof Handlebars): void {
  env.registerHelper('reply', (original: unknown) => replySubject(typeof original === 'string' ? original : ''));
  // {{plural n "minute" "minutes"}} → "1 minute", "12 minutes"
  env.registerHelper('plural', (count: unknown, one: unknown, many: unknown) => `${String(count)} ${count === 1 ? String(one) : String(many)}`);
}

/** Renders once with sample data; an empty result or one without the request id is a problem too. */
function tryRender(problems: string[], file: string, render: () => string, requestId: string | null): void {
  try {
    const out = render();
    if (out.trim() === '') problems.push(`${file}: renders as empty`);
    else if (requestId && !out.includes(requestId)) problems.push(`${file}: does not show the request id ({{requestId}})`);
  } catch (err) {
    problems.push(`${file}: ${oneLine((err as Error).message)}`);
  }
}

/** Every optional field present, then every one absent, so both sides of each {{#if}} are rendered. */
function samples(kind: NoticeKind): NoticeData[] {
  const base = { kind, requestId: 'R-SAMPLE', to: 'customer@example.com', originalSubject: 'Priority rebuild', originalMessageId: 'sample@example.com' };
  return [
    { ...base, account: 'jane.doe@example.com', position: 3, estimateMinutes: 12, staffMessage: 'Please write from your registered address.' },
    { ...base, account: null },
  ];
}

function isCount(n: number | null | undefined): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n > 0;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
