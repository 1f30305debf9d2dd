import { MAX_HEADER_BLOCK_LENGTH, MAX_TEXT_LENGTH, parseMessage } from '../../src/intake/parse';
import { fixtureNames, readFixture } from '../helpers/fixtures';

describe('reading the fields the flow uses', () => {
  test.each<[name: string, fields: { from: string | null; subject: string; messageId: string; text: string }]>([
    ['plain-account-label.eml', { from: 'john.doe@gmail.com', subject: 'Priority rebuild', messageId: 'CAF7k2pQ0x1mT9vN=zJ4eR7@mail.gmail.com', text: 'Account: jdoe@example.com' }],
    ['encoded-subject-rfc2047.eml', { from: 'erin.w@protonmail.com', subject: 'Priority rebuild – erin@example.com ✉', messageId: 'Xk3n9v0QpR2_erin@protonmail.com', text: 'Please see the subject.' }],
    ['qp-utf8.eml', { from: 'carol.martin@outlook.com', subject: 'Priority rebuild', messageId: 'AM0PR07MB6115A1B2C3D4E5F6@AM0PR07MB6115.eurprd07.prod.outlook.com', text: 'carol@example.com — the inbox is empty and the folders are gone. Merci beaucoup, ça presse !\n\nGrüße' }],
    ['base64-windows-1252.eml', { from: 'dave.k@yahoo.com', subject: 'Priority rebuild', messageId: '1741088402.551234.dave@web-yahoo.example', text: 'my login is “dave” – the folders are all empty. I’d appreciate a fast fix, the €50 invoice is in there…' }],
    ['iso-8859-1-body.eml', { from: 'quentin.d@orange.fr', subject: 'Priority rebuild', messageId: '1741206600.quentin@orange.fr', text: 'Ma boîte est vide depuis ce matin. Mon compte (account) : quentin@example.com' }],
    ['html-only.eml', { from: 'alice.backup@gmail.net', subject: 'Priority rebuild', messageId: '20250304090110.4f2a1c@gmail.net', text: 'My username is alice.' }],
    ['html-with-entities.eml', { from: 'peggy.olson@gmail.com', subject: 'Priority rebuild', messageId: 'CAE5peggyEntities@mail.gmail.com', text: 'peggy@example.com <urgent>' }],
    ['multipart-alternative.eml', { from: 'bob@example.com', subject: 'Priority rebuild', messageId: '3b9c1e7a-2f44-4d1e-9a55-0c2b7f1d9e01@example.com', text: 'Please rebuild account bob, I need my archive' }],
    ['attachment-screenshot.eml', { from: 'walter.white@gmail.com', subject: 'Priority rebuild', messageId: 'CAG4walterShot@mail.gmail.com', text: 'login: walter_w' }],
    ['bounce-mailer-daemon.eml', { from: 'mailer-daemon@mx1.example.net', subject: 'Undelivered Mail Returned to Sender', messageId: '20250305123000.9F2A31C0042@mx1.example.net', text: 'could not' }],
    ['own-address.eml', { from: 'webmaster@example.com', subject: 'Priority rebuild test', messageId: 'staff-test-0603@example.com', text: 'Testing the intake' }],
  ])('%s', async (name, expected) => {
    const msg = await parseMessage(readFixture(name));
    expect(msg.from?.address ?? null).toBe(expected.from);
    expect(msg.subject).toBe(expected.subject);
    expect(msg.messageId).toBe(expected.messageId);
    expect(msg.text).toContain(expected.text);
    expect(msg.malformed).toBe(false);
  });

  test('the display name of From is decoded (RFC 2047)', async () => {
    expect((await parseMessage(readFixture('iso-8859-1-body.eml'))).from).toEqual({ address: 'quentin.d@orange.fr', name: 'Quentin Dupré' });
    expect((await parseMessage(readFixture('signature-many-addresses.eml'))).from?.name).toBe('Frank Müller');
  });

  test('the plain part is preferred to the HTML part', async () => {
    const msg = await parseMessage(readFixture('multipart-alternative.eml'));
    expect(msg.text).not.toContain('<div>');
    expect(msg.text).not.toContain('<b>');
  });

  test('HTML turned into text has no tags, no style sheet and decoded entities', async () => {
    const msg = await parseMessage(readFixture('html-only.eml'));
    expect(msg.text).not.toMatch(/<|font-family|&nbsp;/);
  });

  test('a signature separator keeps its trailing space', async () => {
    expect((await parseMessage(readFixture('signature-many-addresses.eml'))).text).toContain('\n-- \n');
  });

  test('List-* headers are there by their own names, as strings', async () => {
    const list = await parseMessage(readFixture('list-id.eml'));
    expect(list.headers.get('list-id')).toEqual(['Mail administrators <mailadmins.lists.example.org>']);
    const unsubscribe = await parseMessage(readFixture('list-unsubscribe.eml'));
    expect(unsubscribe.headers.get('list-unsubscribe')).toEqual(['<mailto:unsubscribe+7731@forum.example.net>, <https://forum.example.net/unsubscribe/7731>']);
    expect(unsubscribe.headers.has('list-id')).toBe(false);
  });

  test('repeated headers keep every value in order, folded lines unfolded', async () => {
    const raw = Buffer.from('Received: from a\n\tby b; Mon, 3 Mar 2025\nReceived: from c by d\nFrom: x@example.org\nSubject: s\n\nbody\n');
    const msg = await parseMessage(raw);
    expect(msg.headers.get('received')).toEqual(['from a by b; Mon, 3 Mar 2025', 'from c by d']);
  });

  test('Auto-Submitted keeps its parameters for classify to read', async () => {
    const msg = await parseMessage(readFixture('out-of-office.eml'));
    expect(msg.headers.get('auto-submitted')).toEqual(['Auto-Replied; owner-email="nina.k@gmail.com"']);
  });

  test('the header block is the message as received, up to the empty line', async () => {
    const raw = readFixture('plain-account-label.eml');
    const msg = await parseMessage(raw);
    expect(msg.headerBlock.startsWith('Received: from mail-')).toBe(true);
    expect(msg.headerBlock).toContain('Message-ID: <CAF7k2pQ0x1mT9vN=zJ4eR7@mail.gmail.com>');
    expect(msg.headerBlock).not.toContain('Account: jdoe');
  });

  test('a delivery report keeps its human-readable part', async () => {
    const msg = await parseMessage(readFixture('delivery-status-notification.eml'));
    expect(msg.text).toContain('could not be delivered');
  });
});

describe('limits on untrusted input', () => {
  test('the text is capped', async () => {
    const raw = Buffer.from(`From: a@example.org\nSubject: Priority rebuild\n\n${'account account account '.repeat(20_000)}`);
    const msg = await parseMessage(raw);
    expect(msg.text.length).toBe(MAX_TEXT_LENGTH);
  });

  test('the cap never splits a character in two', async () => {
    const raw = Buffer.from(`From: a@example.org\nSubject: x\nContent-Type: text/plain; charset=utf-8\n\na${'😀'.repeat(MAX_TEXT_LENGTH)}`);
    const msg = await parseMessage(raw);
    expect(msg.text.length).toBeLessThanOrEqual(MAX_TEXT_LENGTH);
    expect(msg.text).not.toMatch(/[\ud800-\udbff]$/);
  });

  test('a header block too large for mailparser still gives From and Subject', async () => {
    const raw = Buffer.from(`From: Jo <JO@example.org>\nSubject: Priority rebuild\nX-Big: ${'x'.repeat(2 * 1024 * 1024)}\n\nbody\n`);
    const msg = await parseMessage(raw);
    expect(msg.from).toEqual({ address: 'jo@example.org', name: 'Jo' });
    expect(msg.subject).toBe('Priority rebuild');
  });

  test('the header block is capped', async () => {
    const raw = Buffer.from(`From: a@example.org\n${'X-Filler: 0123456789abcdef0123456789abcdef\n'.repeat(5000)}Subject: Priority rebuild\n\nbody\n`);
    const msg = await parseMessage(raw);
    expect(msg.headerBlock.length).toBe(MAX_HEADER_BLOCK_LENGTH);
    expect(msg.subject).toBe('Priority rebuild');
  });

  test('HTML too large to convert in full is still read from its start, quotes and scripts left out', async () => {
    const html = `<html><head><style>p{}</style></head><body><p>My&nbsp;login: <b>alice</b></p><blockquote>account: bob</blockquote><script>x()</script>${'<p>filler</p>'.repeat(120_000)}</body></html>`;
    const msg = await parseMessage(Buffer.from(`From: a@example.org\nSubject: Priority rebuild\nContent-Type: text/html; charset=utf-8\n\n${html}`));
    expect(msg.text.startsWith('My login: alice')).toBe(true);
    expect(msg.text).not.toMatch(/bob|x\(\)|p\{\}/);
  });

  test('attachments are read past without holding up the parse', async () => {
    const msg = await parseMessage(readFixture('attachment-screenshot.eml'));
    expect(msg.text).toContain('Screenshot of the empty inbox attached.');
    expect(msg.text).not.toContain('PDF');
  });

  test('a large attachment does not stall the streaming parser', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 7).toString('base64').replace(/.{76}/g, '$&\n');
    const raw = Buffer.from(
      ['From: a@example.org', 'Subject: Priority rebuild', 'Content-Type: multipart/mixed; boundary="b"', '', '--b', 'Content-Type: text/plain', '', 'login: alice', '--b',
        'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64', '', big, '--b', 'Content-Type: application/zip', 'Content-Transfer-Encoding: base64', '', big, '--b--', ''].join('\n'),
    );
    const msg = await parseMessage(raw);
    expect(msg.text).toContain('login: alice');
  });
});

describe('broken input is read as well as it can be, never thrown', () => {
  const garbage: Array<[string, Buffer]> = [
    ['an empty message', Buffer.alloc(0)],
    ['NUL bytes everywhere', Buffer.from('\0\0From: a@example.org\0\nSubject: Priority\0 rebuild\n\nhi\0there account: jdoe\n')],
    ['no headers at all', Buffer.from('just some text\naccount: jdoe\n')],
    ['headers that never end', Buffer.from('From: a@example.org\nSubject: Priority rebuild')],
    ['broken base64', Buffer.from('From: a@example.org\nSubject: x\nContent-Transfer-Encoding: base64\n\n!!!@@@ not base64 ***\n')],
    ['a multipart without a boundary', Buffer.from('From: a@example.org\nSubject: x\nContent-Type: multipart/mixed\n\n--foo\nContent-Type: text/plain\n\naccount: jdoe\n--foo--\n')],
    ['a boundary that never appears', Buffer.from('From: a@example.org\nSubject: x\nContent-Type: multipart/mixed; boundary="zzz"\n\n--foo\n\naccount: jdoe\n--foo--\n')],
    ['invalid UTF-8', Buffer.concat([Buffer.from('From: a@example.org\nSubject: \xff\nContent-Type: text/plain; charset=utf-8\n\nhi '), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from(' bye\n')])],
    ['an unknown charset', Buffer.from('From: a@example.org\nContent-Type: text/plain; charset=x-no-such-charset\n\naccount: jdoe\n')],
    ['UTF-7 declared', Buffer.from('From: a@example.org\nContent-Type: text/html; charset=utf-7\n\n+ADw-script+AD4-\n')],
    ['a From with no address', Buffer.from('From: undisclosed recipients:;\nSubject: x\n\nhi\n')],
    ['random bytes', Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 7919 + 13) % 256))],
    ['deeply nested multiparts', Buffer.from(`From: a@example.org\n${Array.from({ length: 300 }, (_, i) => `Content-Type: multipart/mixed; boundary="b${i}"\n\n--b${i}\n`).join('')}Content-Type: text/plain\n\naccount: jdoe\n`)],
    ['a huge header section', Buffer.from(`From: a@example.org\nX-Big: ${'x'.repeat(2 * 1024 * 1024)}\n\nbody\n`)],
  ];

  test.each(garbage)('%s', async (_what, raw) => {
    const msg = await parseMessage(raw);
    expect(typeof msg.text).toBe('string');
    expect(typeof msg.subject).toBe('string');
    expect(msg.headers).toBeInstanceOf(Map);
    expect(msg.text).not.toContain('\0');
  });

  test.each<[string, Buffer]>([
    ['NUL bytes', garbage[1]![1]],
    ['no headers', garbage[2]![1]],
    ['broken base64', garbage[4]![1]],
    ['a multipart without a boundary', garbage[5]![1]],
    ['a boundary that never appears', garbage[6]![1]],
    ['invalid UTF-8', garbage[7]![1]],
  ])('%s is flagged malformed', async (_what, raw) => {
    expect((await parseMessage(raw)).malformed).toBe(true);
  });

  test('the body of a multipart without a boundary is still read', async () => {
    const msg = await parseMessage(readFixture('missing-boundary.eml'));
    expect(msg.malformed).toBe(true);
    expect(msg.text).toContain('account: rupert');
  });

  test('text without headers is read as the body', async () => {
    expect((await parseMessage(garbage[2]![1])).text).toContain('account: jdoe');
  });

  test('a From with no address gives no mailbox address', async () => {
    const msg = await parseMessage(garbage[10]![1]);
    expect(msg.from === null || msg.from.address === '').toBe(true);
  });

  test.each(fixtureNames().filter((name) => name !== 'missing-boundary.eml'))('%s is well-formed', async (name) => {
    expect((await parseMessage(readFixture(name))).malformed).toBe(false);
  });
});
