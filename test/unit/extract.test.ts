import { AccountDirectory } from '../../src/accounts/directory';
import { claimAccount, extractCandidates, extractCandidateSets, ownText, type AccountClaim, type ExtractContext } from '../../src/intake/extract';
import { parseMessage } from '../../src/intake/parse';
import { fixtureNames, readFixture } from '../helpers/fixtures';

const OWN = ['webmaster@example.com'];
const names = { defaultDomain: 'example.com', ownAddresses: OWN };
let ctx: ExtractContext;

beforeAll(async () => {
  const directory = await AccountDirectory.load('examples/accounts.csv');
  ctx = { ...names, exists: (account) => directory.has(account) };
});

const one = (account: string, source: 'named' | 'sender' = 'named'): AccountClaim => ({ kind: 'one', account, source });
const several = (...accounts: string[]): AccountClaim => ({ kind: 'several', accounts });
const unknown = (...candidates: string[]): AccountClaim => ({ kind: 'unknown', candidates });
const none: AccountClaim = { kind: 'none' };

/** The account each rebuild request among the fixtures is about (the automatic and other mail never gets here). */
const REQUESTS: Array<[name: string, expected: AccountClaim]> = [
  ['attachment-screenshot.eml', one('walter_w@example.com')],
  ['auto-submitted-no.eml', one('rupert@example.com', 'sender')],
  ['bare-address-unknown.eml', unknown('tom@example.com')],
  ['bare-name.eml', one('heidi@example.com')],
  ['base64-windows-1252.eml', one('dave@example.com')],
  ['contact-address-in-body.eml', one('jdoe@example.com', 'sender')],
  ['encoded-subject-rfc2047.eml', one('erin@example.com')],
  ['forwarded-request.eml', one('grace@example.com')],
  ['german-aw-subject.eml', one('kim@example.com')],
  ['gmail-wrapped-attribution.eml', one('sybil@example.com')],
  ['html-only.eml', one('alice@example.com')],
  ['html-with-entities.eml', one('peggy@example.com')],
  ['iso-8859-1-body.eml', one('quentin@example.com')],
  ['list-tag-subject.eml', one('leo@example.com')],
  ['login-keyword.eml', one('oscar@example.com')],
  ['missing-boundary.eml', one('rupert@example.com')],
  ['multipart-alternative.eml', one('bob@example.com')],
  ['no-account.eml', none],
  ['outlook-original-message.eml', one('carol@example.com')],
  ['outlook-reply.eml', one('judy@example.com')],
  ['plain-account-label.eml', one('jdoe@example.com')],
  ['qp-utf8.eml', one('carol@example.com')],
  ['reply-quotes-other-account.eml', one('jdoe@example.com', 'sender')],
  ['sender-is-account.eml', one('ivan@example.com', 'sender')],
  ['several-accounts.eml', several('jdoe@example.com', 'alice@example.com')],
  ['shell-metacharacters.eml', one('sybil@example.com')],
  ['shouting-subject.eml', one('victor.hugo@example.com')],
  ['signature-many-addresses.eml', one('frank@example.com')],
  ['unknown-account.eml', unknown('zed@example.com')],
  ['username-keyword.eml', one('nina@example.com')],
];

describe('the account a request is about, from the fixtures', () => {
  test.each(REQUESTS)('%s claims %j', async (name, expected) => {
    expect(claimAccount(await parseMessage(readFixture(name)), ctx)).toEqual(expected);
  });

  test('every fixture named here exists', () => {
    const all = fixtureNames();
    for (const [name] of REQUESTS) expect(all).toContain(name);
  });
});

describe('candidates named in the text', () => {
  test.each<[what: string, subject: string, text: string, expected: string[]]>([
    ['"Account:" with an address', 'Priority rebuild', 'Account: jdoe@example.com', ['jdoe@example.com']],
    ['a bare name gets the default domain', 'Priority rebuild', 'account: jdoe', ['jdoe@example.com']],
    ['"my account is"', 'Priority rebuild', 'my account is jdoe', ['jdoe@example.com']],
    ['"account name is"', 'Priority rebuild', 'The account name is jdoe.', ['jdoe@example.com']],
    ['"the user"', 'Priority rebuild', 'please rebuild the user jdoe now', ['jdoe@example.com']],
    ['"user name"', 'Priority rebuild', 'user name: jdoe', ['jdoe@example.com']],
    ['"username" with "="', 'Priority rebuild', 'Username=jdoe', ['jdoe@example.com']],
    ['"login" with "-"', 'Priority rebuild', 'login - jdoe', ['jdoe@example.com']],
    ['keywords in any case', 'Priority rebuild', 'LOGIN: JDoe', ['jdoe@example.com']],
    ['"account:" without a space', 'Priority rebuild', 'account:jdoe', ['jdoe@example.com']],
    ['a name in brackets or quotes', 'Priority rebuild', 'account ("jdoe")', ['jdoe@example.com']],
    ['an address in angle brackets', 'Priority rebuild', 'account <jdoe@example.com>.', ['jdoe@example.com']],
    ['a mailto: link', 'Priority rebuild', 'account: mailto:jdoe@example.com', ['jdoe@example.com']],
    ['curly quotes from a word processor', 'Priority rebuild', 'my login is “jdoe”', ['jdoe@example.com']],
    ['a bare address anywhere', 'Priority rebuild', 'please help jdoe@example.com!', ['jdoe@example.com']],
    ['the name after the phrase in the subject', 'Priority rebuild – jdoe', '', ['jdoe@example.com']],
    ['filler words after the phrase', 'Priority rebuild request for my account jdoe please', '', ['jdoe@example.com']],
    ['nothing after the phrase', 'Re: Priority rebuild', 'thanks', []],
    ['"please" after the phrase is no name', 'Priority rebuild please', '', []],
    ['the subject before the phrase names nothing', 'jdoe: priority rebuild', '', []],
    ['subject first, then body, each once', 'Priority rebuild alice', 'account: bob, or account alice', ['alice@example.com', 'bob@example.com']],
    ['ordinary sentences name no account', 'Priority rebuild', 'My account is empty. The login page works. As a user since 2009 I am upset. My account has been down.', []],
    ['"user" in an address is no keyword', 'Priority rebuild', 'write to user@example.org', ['user@example.org']],
    ['our own address is never a candidate', 'Priority rebuild', 'I got your notice from webmaster@example.com, account WEBMASTER', []],
    ['quoted lines are ignored', 'Priority rebuild', 'account: alice\n> account: bob', ['alice@example.com']],
    ['the signature is ignored', 'Priority rebuild', 'account: alice\n-- \nBob, bob@example.com', ['alice@example.com']],
    ['a signature separator without its space too', 'Priority rebuild', 'account: alice\n--\nbob@example.com', ['alice@example.com']],
    ['"On … wrote:" and everything after it', 'Priority rebuild', 'account: alice\nOn Mon, 3 Mar 2025, Bob <bob@example.com> wrote:\nmore text user carol', ['alice@example.com']],
    ['Outlook "From: … Sent:" block', 'Priority rebuild', 'account: alice\n\nFrom: Bob\nSent: Monday\nTo: x\naccount: bob', ['alice@example.com']],
    ['German "Am … schrieb …:"', 'Priority rebuild', 'Konto: alice@example.com\nAm 03.03.2025 um 10:00 schrieb Bob <bob@example.com>:\n> x', ['alice@example.com']],
  ])('%s', (_what, subject, text, expected) => {
    expect(extractCandidates({ subject, text }, names)).toEqual(expected);
  });

  test.each([
    ['account: jdoe; rm -rf /', ['jdoe@example.com']],
    ['account: $(reboot)', []],
    ['account: `id`', []],
    ['account: jdoe|cat', []],
    ['user name -rf@example.com', []],
    ['login ../../etc/shadow', []],
    ['account: jdoe&&reboot', []],
    ["account: jdoe'; DROP TABLE accounts;--", ['jdoe@example.com']],
    ['account: jdoe@example.com@evil.example', []],
    ['account: "jdoe example"', ['jdoe@example.com']],
    ['account: ${IFS}jdoe', []],
  ])('shell text around a name yields a valid name or nothing: %p', (text, expected) => {
    const found = extractCandidates({ subject: 'Priority rebuild', text }, names);
    expect(found).toEqual(expected);
    for (const account of found) expect(account).toMatch(/^[a-z0-9][a-z0-9._+-]*@[a-z0-9.-]+$/);
  });

  test('named and bare candidates are told apart', () => {
    expect(extractCandidateSets({ subject: 'Priority rebuild', text: 'account: jdoe@example.com\nreach me at me@gmail.com or jdoe@example.com' }, names)).toEqual({
      named: ['jdoe@example.com'],
      bare: ['me@gmail.com'],
    });
  });
});

describe('claiming an account', () => {
  const claim = (text: string, from: string | null, subject = 'Priority rebuild') =>
    claimAccount({ subject, text, from: from === null ? null : { address: from, name: '' } }, ctx);

  test.each<[what: string, text: string, from: string | null, expected: AccountClaim]>([
    ['one named account that exists', 'account: alice', 'stranger@gmail.com', one('alice@example.com')],
    ['names are matched case-insensitively', 'account: ALICE@Example.COM', 'stranger@gmail.com', one('alice@example.com')],
    ['two named accounts that exist', 'user alice, user bob', 'stranger@gmail.com', several('alice@example.com', 'bob@example.com')],
    ['a named account that does not exist', 'account: nobody', 'alice@example.com', unknown('nobody@example.com')],
    ['a named one that exists next to one that does not', 'account: alice or account: nobody', 'stranger@gmail.com', one('alice@example.com')],
    ['a named account wins over a bare one', 'account: alice, cc bob@example.com', 'stranger@gmail.com', one('alice@example.com')],
    ['one bare address that is an account', 'mailbox bob@example.com is empty', 'stranger@gmail.com', one('bob@example.com')],
    ['two bare addresses that are accounts', 'bob@example.com and alice@example.com', 'stranger@gmail.com', several('bob@example.com', 'alice@example.com')],
    ['nothing named, the sender is an account', 'my inbox is empty', 'ivan@example.com', one('ivan@example.com', 'sender')],
    ['the sender is an account, spelled in capitals', 'my inbox is empty', 'IVAN@EXAMPLE.COM', one('ivan@example.com', 'sender')],
    ['a contact address does not hide the sender', 'reach me at me@gmail.com', 'ivan@example.com', one('ivan@example.com', 'sender')],
    ['an unknown bare address from a stranger', 'rebuild tom@example.com', 'stranger@gmail.com', unknown('tom@example.com')],
    ['the stranger repeating their own address', 'reach me at stranger@gmail.com', 'stranger@gmail.com', none],
    ['nothing at all', 'please hurry', 'stranger@gmail.com', none],
    ['nothing at all and no From', 'please hurry', null, none],
  ])('%s', (_what, text, from, expected) => {
    expect(claim(text, from)).toEqual(expected);
  });
});

describe("the body's own text", () => {
  test('keeps the sender\'s lines and drops quotes, reply headers and the signature', () => {
    const text = ['Hi,', 'account: alice', '> quoted', '', 'On Mon, 3 Mar 2025 at 10:00, Bob <', 'bob@example.com> wrote:', '> more'].join('\n');
    expect(ownText(text)).toBe('Hi,\naccount: alice\n');
  });

  test('keeps a forwarded message: the customer means what it says', () => {
    const text = 'FYI\n\n---------- Forwarded message ---------\nFrom: Grace <g@gmail.com>\nDate: Mon\n\naccount: grace';
    expect(ownText(text)).toContain('account: grace');
  });

  test('a sentence starting with "On" is not a reply header', () => {
    expect(ownText('On Monday my inbox emptied.\naccount: alice')).toBe('On Monday my inbox emptied.\naccount: alice');
  });
});
