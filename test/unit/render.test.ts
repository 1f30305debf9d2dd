import { cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NOTICE_KINDS, type NoticeData, type NoticeKind } from '../../src/notify/notice';
import { loadTemplates, replySubject, TemplateError, type Templates } from '../../src/notify/render';

const TEMPLATES = join(__dirname, '../../templates');
const UNFILLED = ['{{', '}}', 'undefined', 'null', 'NaN', '[object'];

function notice(kind: NoticeKind, extra: Partial<NoticeData> = {}): NoticeData {
  return {
    kind,
    requestId: 'R-7KQ2M9',
    to: 'jane.doe@gmail.example',
    account: 'jdoe@example.net',
    originalSubject: 'Priority rebuild please',
    originalMessageId: 'CAF1234@mail.gmail.example',
    position: 4,
    estimateMinutes: 17,
    ...(kind === 'rejected' ? { staffMessage: 'Please write from the address we have on file.' } : {}),
    ...extra,
  };
}

function withTemplatesCopy(change: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'rebuild-desk-templates-'));
  cpSync(TEMPLATES, dir, { recursive: true });
  change(dir);
  return dir;
}

describe('notice templates', () => {
  let templates: Templates;
  beforeAll(async () => {
    templates = await loadTemplates(TEMPLATES);
  });

  describe.each(NOTICE_KINDS)('the %s notice', (kind) => {
    it.each([
      ['every value known', notice(kind)],
      ['no account, position or estimate known', notice(kind, { account: null, position: undefined, estimateMinutes: undefined, staffMessage: undefined })],
    ])('renders subject, text and HTML with nothing left unfilled (%s)', (_case, data) => {
      const out = templates.render(data);
      for (const part of [out.subject, out.text, out.html]) {
        for (const marker of UNFILLED) expect(part).not.toContain(marker);
      }
      expect(out.text).toContain('R-7KQ2M9');
      expect(out.html).toContain('R-7KQ2M9');
      expect(out.subject).toBe('Re: Priority rebuild please');
    });

    it('never repeats the words of the customer’s message in the body', () => {
      const out = templates.render(notice(kind, { originalSubject: 'Priority rebuild BUY CHEAP PILLS http://spam.example' }));
      expect(out.text).not.toContain('PILLS');
      expect(out.html).not.toContain('PILLS');
    });
  });

  it('gives the position and the estimate in the confirmation', () => {
    const { text, html } = templates.render(notice('confirmation', { position: 3, estimateMinutes: 42 }));
    for (const part of [text, html.replace(/<[^>]+>/g, '')]) {
      expect(part).toContain('number 3 in line among priority rebuilds');
      expect(part).toContain('about 42 minutes');
    }
  });

  it('says an estimate follows once rebuilds are measured when none is known yet', () => {
    const { text } = templates.render(notice('confirmation', { estimateMinutes: undefined }));
    expect(text).not.toContain('about');
    expect(text).toMatch(/estimates? follow once the first\s+rebuilds have been measured/);
  });

  it('counts a wait of under a minute as about 1 minute', () => {
    expect(templates.render(notice('confirmation', { estimateMinutes: 0.4 })).text).toContain('about 1 minute.');
  });

  it('tells a customer whose mailbox is back that the mail program may download everything again', () => {
    const { text } = templates.render(notice('completed'));
    expect(text).toContain('jdoe@example.net has been rebuilt');
    expect(text).toContain('UIDVALIDITY');
    expect(text).toMatch(/download all your\s+messages again/);
  });

  it('explains how to write a request when no account was found', () => {
    const { text } = templates.render(notice('need-account', { account: null }));
    expect(text).toContain('Subject: Priority rebuild');
    expect(text).toContain('Account: name@domain');
  });

  it('shows the staff message in a rejection, escaped in HTML', () => {
    const staffMessage = 'Not your account <script>alert("x")</script> & sorry';
    const { text, html } = templates.render(notice('rejected', { staffMessage }));
    expect(text).toContain(staffMessage);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; sorry');
  });

  it('escapes an account name in HTML', () => {
    const { html } = templates.render(notice('unknown-account', { account: 'a<b>@example.net' }));
    expect(html).toContain('a&lt;b&gt;@example.net');
  });
});

describe('the reply subject', () => {
  it.each([
    ['Priority rebuild', 'Re: Priority rebuild'],
    ['Re: Priority rebuild', 'Re: Priority rebuild'],
    ['RE: re:Priority rebuild', 'Re: Priority rebuild'],
    ['', 'Re: Priority rebuild'],
    ['Priority\r\nBcc: victim@example.org', 'Re: Priority Bcc: victim@example.org'],
  ])('answers %j with %j', (original, expected) => {
    expect(replySubject(original)).toBe(expected);
  });
});

describe('loading templates', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  async function loadError(dir: string): Promise<TemplateError> {
    dirs.push(dir);
    const error = await loadTemplates(dir).then(
      () => null,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(TemplateError);
    return error as TemplateError;
  }

  it('stops with an error naming a missing template', async () => {
    const error = await loadError(withTemplatesCopy((dir) => unlinkSync(join(dir, 'confirmation.html'))));
    expect(error.message).toContain('confirmation.html: missing');
    expect(error.problems).toHaveLength(1);
  });

  it('stops with an error naming a template that does not parse', async () => {
    const error = await loadError(withTemplatesCopy((dir) => writeFileSync(join(dir, 'delayed.txt'), 'Hello {{#if account}} {{requestId}}')));
    expect(error.message).toContain('delayed.txt');
    expect(error.message).toMatch(/Parse error/);
  });

  it('stops with an error naming a template that uses an unknown variable', async () => {
    const error = await loadError(withTemplatesCopy((dir) => writeFileSync(join(dir, 'completed.txt'), 'Done: {{acount}} {{requestId}}')));
    expect(error.message).toContain('completed.txt');
    expect(error.message).toContain('acount');
  });

  it('refuses a body template that would quote the customer’s subject', async () => {
    const error = await loadError(withTemplatesCopy((dir) => writeFileSync(join(dir, 'in-progress.html'), '<p>{{originalSubject}} {{requestId}}</p>')));
    expect(error.message).toContain('in-progress.html');
  });

  it('refuses a template that no longer shows the request id', async () => {
    const error = await loadError(withTemplatesCopy((dir) => writeFileSync(join(dir, 'already-done.txt'), 'Your mailbox is back.')));
    expect(error.message).toContain('already-done.txt: does not show the request id');
  });

  it('lists every problem in one error', async () => {
    const error = await loadError(
      withTemplatesCopy((dir) => {
        unlinkSync(join(dir, 'subject.txt'));
        unlinkSync(join(dir, 'rejected.txt'));
        writeFileSync(join(dir, 'confirmation.html'), '{{#each}}');
      }),
    );
    expect(error.problems.map((p) => p.split(':')[0]).sort()).toEqual(['confirmation.html', 'rejected.txt', 'subject.txt']);
  });
});
