import { classify, isRequestSubject, LOOP_HEADER, type Classification, type ClassifyContext } from '../../src/intake/classify';
import { parseMessage, type ParsedMessage } from '../../src/intake/parse';
import { fixtureNames, readFixture } from '../helpers/fixtures';

const OWN = ['webmaster@example.com', 'rebuild-desk@example.com'];
const request: Classification = { kind: 'request' };
const other: Classification = { kind: 'other' };
const automatic = (rule: Extract<Classification, { kind: 'automatic' }>['rule']): Classification => ({ kind: 'automatic', rule });

/**
 * Every fixture, with the envelope sender it arrives with (`from` = the same as its From address, as
 * for ordinary mail; '' = the null sender `<>` of bounces and notifications).
 */
const FIXTURES: Array<[name: string, envelope: 'from' | '', expected: Classification]> = [
  ['attachment-screenshot.eml', 'from', request],
  ['auto-submitted-no.eml', 'from', request],
  ['auto-submitted.eml', 'from', automatic('auto-submitted')],
  ['bare-address-unknown.eml', 'from', request],
  ['bare-name.eml', 'from', request],
  ['base64-windows-1252.eml', 'from', request],
  ['bounce-mailer-daemon.eml', '', automatic('daemon-sender')],
  ['contact-address-in-body.eml', 'from', request],
  ['delivery-status-notification.eml', '', automatic('auto-submitted')],
  ['encoded-subject-rfc2047.eml', 'from', request],
  ['forwarded-request.eml', 'from', request],
  ['german-aw-subject.eml', 'from', request],
  ['gmail-wrapped-attribution.eml', 'from', request],
  ['html-only.eml', 'from', request],
  ['html-with-entities.eml', 'from', request],
  ['iso-8859-1-body.eml', 'from', request],
  ['list-id.eml', 'from', automatic('list-header')],
  ['list-tag-subject.eml', 'from', request],
  ['list-unsubscribe.eml', 'from', automatic('list-header')],
  ['login-keyword.eml', 'from', request],
  ['loop-marker.eml', '', automatic('loop-marker')],
  ['missing-boundary.eml', 'from', request],
  ['multipart-alternative.eml', 'from', request],
  ['no-account.eml', 'from', request],
  ['non-request-billing.eml', 'from', other],
  ['null-sender-notification.eml', '', automatic('null-sender')],
  ['out-of-office.eml', 'from', automatic('auto-submitted')],
  ['outlook-original-message.eml', 'from', request],
  ['outlook-reply.eml', 'from', request],
  ['own-address.eml', 'from', automatic('own-address')],
  ['plain-account-label.eml', 'from', request],
  ['postmaster.eml', 'from', automatic('daemon-sender')],
  ['precedence-bulk.eml', 'from', automatic('precedence')],
  ['prioritized-rebuild.eml', 'from', other],
  ['qp-utf8.eml', 'from', request],
  ['reply-quotes-other-account.eml', 'from', request],
  ['sender-is-account.eml', 'from', request],
  ['several-accounts.eml', 'from', request],
  ['shell-metacharacters.eml', 'from', request],
  ['shouting-subject.eml', 'from', request],
  ['signature-many-addresses.eml', 'from', request],
  ['unknown-account.eml', 'from', request],
  ['username-keyword.eml', 'from', request],
];

describe('classifying the fixtures', () => {
  test('every fixture has a row in the table', () => {
    expect(FIXTURES.map(([name]) => name).sort()).toEqual(fixtureNames());
  });

  test.each(FIXTURES)('%s (envelope %p) is %j', async (name, envelope, expected) => {
    const msg = await parseMessage(readFixture(name));
    const ctx: ClassifyContext = { envelopeFrom: envelope === 'from' ? (msg.from?.address ?? '') : '', ownAddresses: OWN };
    expect(classify(msg, ctx)).toEqual(expected);
  });
});

/** A message made of headers alone, for the rules one at a time. */
function message(headers: Record<string, string | string[]>, from: string | null = 'customer@gmail.com', subject = 'Priority rebuild'): ParsedMessage {
  const map = new Map<string, string[]>();
  for (const [name, value] of Object.entries(headers)) map.set(name.toLowerCase(), ([] as string[]).concat(value));
  return { messageId: 'x@y', from: from === null ? null : { address: from, name: '' }, subject, text: '', headers: map, headerBlock: '', malformed: false };
}
const ctx = (envelopeFrom = 'customer@gmail.com'): ClassifyContext => ({ envelopeFrom, ownAddresses: OWN });

describe('automatic mail is never taken for a request', () => {
  test.each<[string, ParsedMessage, ClassifyContext, Classification]>([
    ['Auto-Submitted: auto-replied', message({ 'Auto-Submitted': 'auto-replied' }), ctx(), automatic('auto-submitted')],
    ['Auto-Submitted: AUTO-GENERATED in capitals', message({ 'Auto-Submitted': 'AUTO-GENERATED' }), ctx(), automatic('auto-submitted')],
    ['Auto-Submitted with parameters', message({ 'Auto-Submitted': 'auto-notified; owner-email="a@b.example"' }), ctx(), automatic('auto-submitted')],
    ['Auto-Submitted with an unknown extension value', message({ 'Auto-Submitted': 'x-vacation' }), ctx(), automatic('auto-submitted')],
    ['an empty Auto-Submitted', message({ 'Auto-Submitted': '' }), ctx(), automatic('auto-submitted')],
    ['Precedence: bulk', message({ Precedence: 'bulk' }), ctx(), automatic('precedence')],
    ['Precedence: Junk', message({ Precedence: 'Junk' }), ctx(), automatic('precedence')],
    ['Precedence: list', message({ Precedence: 'list' }), ctx(), automatic('precedence')],
    ['List-Id', message({ 'List-Id': '<users.lists.example.org>' }), ctx(), automatic('list-header')],
    ['List-Unsubscribe', message({ 'List-Unsubscribe': '<mailto:leave@lists.example.org>' }), ctx(), automatic('list-header')],
    ['List-Post', message({ 'List-Post': '<mailto:users@lists.example.org>' }), ctx(), automatic('list-header')],
    ['the null envelope sender', message({}), ctx(''), automatic('null-sender')],
    ['From MAILER-DAEMON in capitals', message({}, 'MAILER-DAEMON@mx.example.net'.toLowerCase()), ctx('mailer-daemon@mx.example.net'), automatic('daemon-sender')],
    ['From postmaster of any domain', message({}, 'postmaster@anywhere.example'), ctx('bounces@anywhere.example'), automatic('daemon-sender')],
    ['no From, envelope sender mailer-daemon', message({}, null), ctx('mailer-daemon@mx.example.net'), automatic('daemon-sender')],
    ['From our own intake address', message({}, 'webmaster@example.com'), ctx('webmaster@example.com'), automatic('own-address')],
    ['From our own From address', message({}, 'rebuild-desk@example.com'), ctx('bounces@example.com'), automatic('own-address')],
    ['our loop marker', message({ [LOOP_HEADER]: 'R-7KQ2M9' }), ctx(), automatic('loop-marker')],
    ['our loop marker wins over everything else', message({ [LOOP_HEADER]: 'R-1', 'Auto-Submitted': 'auto-replied', 'List-Id': '<x>' }, 'webmaster@example.com'), ctx(''), automatic('loop-marker')],
    ['Auto-Submitted is reported before the null sender of a bounce', message({ 'Auto-Submitted': 'auto-replied' }, 'mailer-daemon@mx.example.net'), ctx(''), automatic('auto-submitted')],
  ])('%s → automatic', (_what, msg, context, expected) => {
    expect(classify(msg, context)).toEqual(expected);
  });

  test.each<[string, ParsedMessage]>([
    ['Auto-Submitted: no', message({ 'Auto-Submitted': 'no' })],
    ['Auto-Submitted: No; with a comment', message({ 'Auto-Submitted': 'No (a person wrote this); x=1' })],
    ['Precedence: first-class', message({ Precedence: 'first-class' })],
    ['X-Auto-Response-Suppress: All (asks for no replies, says nothing about who wrote it)', message({ 'X-Auto-Response-Suppress': 'All' })],
    ['a From local part that merely contains postmaster', message({}, 'postmaster.jones@example.org')],
  ])('%s → still a request', (_what, msg) => {
    expect(classify(msg, ctx())).toEqual(request);
  });
});

describe('a rebuild request is recognised by its subject', () => {
  test.each([
    'Priority rebuild',
    'priority rebuild',
    'PRIORITY-REBUILD!!',
    'priority   rebuild',
    'Priority_Rebuild',
    'PriorityRebuild',
    'priority re-build',
    'Re: [Support] Fwd: Priority Rebuild – jdoe',
    'RE: RE: Re: Priority rebuild',
    'AW: WG: Priority Rebuild',
    'SV: Priority rebuild',
    'TR: Priority rebuild',
    'Fw: Priority rebuild',
    'Re[2]: Priority rebuild',
    '[#4821] Priority rebuild for jdoe',
    'Urgent: priority rebuild please',
    'Ｐｒｉｏｒｉｔｙ ｒｅｂｕｉｌｄ',
  ])('%p is a request', (subject) => {
    expect(isRequestSubject(subject)).toBe(true);
    expect(classify(message({}, 'customer@gmail.com', subject), ctx())).toEqual(request);
  });

  test.each(['Prioritized rebuild schedule?', 'Priority support', 'Rebuild priority', 'Question about invoice', ''])(
    '%p is not',
    (subject) => {
      expect(classify(message({}, 'customer@gmail.com', subject), ctx())).toEqual(other);
    },
  );
});
