#!/usr/bin/env node
'use strict';
/**
 * Hostile input for the SMTP listener (SPEC §4.4: "the listener itself never crashes on input").
 *
 *   handCrafted()          malformed messages written on purpose, one per known way to break a parser
 *                          or to smuggle something through the bot (header injection, shell text)
 *   mutations(seed, n)     a seeded mutation fuzzer over test/fixtures/mail/*.eml: byte flips,
 *                          truncation, repeated header lines, damaged boundaries, stray CR/LF/NUL
 *
 * Used by test/hostile/hostile-input.test.ts. Run directly to write the corpus out for other tools:
 *
 *   node scripts/hostile-corpus.js [--seed N] [--count N] [--out DIR]
 */
const { readdirSync, readFileSync, mkdirSync, writeFileSync } = require('node:fs');
const { join, resolve } = require('node:path');

const FIXTURES = resolve(__dirname, '../test/fixtures/mail');
const CRLF = '\r\n';

/** @param {string[]} headers @param {string | Buffer} body */
function mail(headers, body) {
  return Buffer.concat([Buffer.from(headers.join(CRLF) + CRLF + CRLF, 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')]);
}

const base = (subject = 'Priority rebuild', from = 'John Doe <jdoe@example.com>', id = 'x') => [
  `From: ${from}`,
  'To: webmaster@localhost',
  `Subject: ${subject}`,
  `Message-ID: <hostile-${id}@corpus.test>`,
  'Date: Thu, 6 Mar 2025 09:00:00 +0000',
  'MIME-Version: 1.0',
];

const b64 = (text) => Buffer.from(text, 'utf8').toString('base64');

/** @returns {{ name: string, raw: Buffer, recipients?: number }[]} */
function handCrafted() {
  const cases = [];
  const add = (name, raw, recipients) => cases.push({ name, raw, recipients });

  add('multipart-without-boundary-parameter', mail([...base('Priority rebuild', undefined, 'nobound'), 'Content-Type: multipart/mixed'], '--x\r\nContent-Type: text/plain\r\n\r\nAccount: jdoe\r\n--x--\r\n'));
  add('boundary-declared-never-used', mail([...base('Priority rebuild', undefined, 'absent'), 'Content-Type: multipart/alternative; boundary="never-here"'], 'Account: jdoe\r\n'));
  add('boundary-never-closed', mail([...base('Priority rebuild', undefined, 'unclosed'), 'Content-Type: multipart/mixed; boundary="b"'], '--b\r\nContent-Type: text/plain\r\n\r\nAccount: jdoe\r\n'));
  {
    let body = 'Account: jdoe\r\n';
    for (let depth = 500; depth > 0; depth--) body = `--b${depth}\r\nContent-Type: multipart/mixed; boundary="b${depth + 1}"\r\n\r\n${body}\r\n--b${depth}--\r\n`;
    add('multipart-nested-500-deep', mail([...base('Priority rebuild', undefined, 'deep'), 'Content-Type: multipart/mixed; boundary="b1"'], body));
  }
  {
    let body = 'Account: jdoe\r\n';
    for (let depth = 0; depth < 100; depth++) body = `Content-Type: message/rfc822\r\n\r\nFrom: a@b\r\nSubject: nested ${depth}\r\n\r\n${body}`;
    add('message-rfc822-nested-100-deep', mail([...base('Priority rebuild', undefined, 'rfc822'), 'Content-Type: multipart/mixed; boundary="m"'], `--m\r\n${body}\r\n--m--\r\n`));
  }
  add('header-line-1-MB', mail([...base('Priority rebuild', undefined, 'longline'), `X-Long: ${'a'.repeat(1024 * 1024)}`], 'Account: jdoe\r\n'));
  add('ten-thousand-headers', mail([...base('Priority rebuild', undefined, 'manyheaders'), ...Array.from({ length: 10_000 }, (_, i) => `X-H${i}: v`)], 'Account: jdoe\r\n'));
  add('subject-200-KB', mail(base(`Priority rebuild ${'account jdoe@example.com '.repeat(8_000)}`, undefined, 'hugesubject'), 'Account: jdoe\r\n'));
  add('body-line-5-MB-no-newline', mail(base('Priority rebuild', undefined, 'longbody'), `Account: jdoe ${'account '.repeat(640 * 1024)}`));
  add('nul-bytes', Buffer.concat([Buffer.from('From: jdoe@example.com\r\nSubject: Priority\0 rebuild\r\nMessage-ID: <nul@corpus.test>\r\n\r\nAccount:\0 jdoe\0\0\r\n', 'latin1')]));
  add('invalid-utf-8', Buffer.concat([Buffer.from('From: jdoe@example.com\r\nSubject: Priority rebuild \xff\xfe\xc0\xaf\r\nMessage-ID: <utf8@corpus.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAccount: jdoe', 'latin1'), Buffer.from([0xed, 0xa0, 0x80, 0xf8, 0x88, 0x80, 0x80, 0x80, 0xc3]), Buffer.from('\r\n')]));
  add('broken-base64', mail([...base('Priority rebuild', undefined, 'b64'), 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64'], `${b64('Account: jdoe')}!!!***===\r\nnot base64 at all $$$\r\n====\r\n`));
  add('broken-quoted-printable', mail([...base('Priority rebuild', undefined, 'qp'), 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: quoted-printable'], 'Account: jdoe=ZZ=\r\n=0=\r\n=E2=82\r\n=\r\n'));
  add('unknown-charset-and-encoding', mail([...base('=?x-unknown?Q?Priority_rebuild?=', undefined, 'charset'), 'Content-Type: text/plain; charset=x-klingon', 'Content-Transfer-Encoding: x-uuencode'], 'Account: jdoe\r\n'));
  add('no-header-section-at-all', Buffer.from('\r\nAccount: jdoe\r\nPriority rebuild please\r\n'));
  add('headers-only-no-body', Buffer.from(base('Priority rebuild', undefined, 'nobody').join(CRLF) + CRLF));
  add('bare-lf-and-bare-cr', Buffer.from('From: jdoe@example.com\nSubject: Priority rebuild\rX-Odd: 1\nMessage-ID: <bare@corpus.test>\n\nAccount: jdoe\r\r\n'));
  add('thousand-recipients', mail([...base('Priority rebuild', undefined, 'rcpts'), `To: ${Array.from({ length: 1_000 }, (_, i) => `r${i}@localhost`).join(', ')}`], 'Account: jdoe\r\n'), 1_000);
  add('empty-from', mail(base('Priority rebuild', '', 'emptyfrom'), 'Account: jdoe\r\n'));
  add('from-group-syntax', mail(base('Priority rebuild', 'undisclosed-recipients:;', 'group'), 'Account: jdoe\r\n'));
  add('many-from-addresses', mail(base('Priority rebuild', Array.from({ length: 500 }, (_, i) => `u${i}@example.com`).join(', '), 'manyfrom'), 'Account: jdoe\r\n'));
  add('message-id-50-KB', mail([...base('Priority rebuild', undefined, 'mid').slice(0, 3), `Message-ID: <${'m'.repeat(50_000)}@corpus.test>`], 'Account: jdoe\r\n'));
  add('html-only-with-script', mail([...base('Priority rebuild', undefined, 'html'), 'Content-Type: text/html'], '<script>alert(1)</script><p onload="x()">Account: <b>jdoe</b></p><iframe src="javascript:1"></iframe>'));

  // Header injection: whatever the customer writes must never become a header of our notice.
  const evil = 'Priority rebuild\r\nBcc: victim@evil.example\r\nX-Injected: yes';
  add('subject-with-crlf-in-encoded-word-b', mail(base(`=?UTF-8?B?${b64(evil)}?=`, 'alice@example.com', 'inj1'), 'Account: jdoe@example.com\r\n'));
  add('subject-with-crlf-in-encoded-word-q', mail(base('=?UTF-8?Q?Priority_rebuild=0D=0ABcc:_victim@evil.example=0D=0ATo:_other@evil.example?=', 'bob@example.com', 'inj2'), 'Account: bob@example.com\r\n'));
  add('subject-then-literal-bcc-line', mail([...base('Priority rebuild', 'carol@example.com', 'inj3'), 'Bcc: victim@evil.example', 'Cc: other@evil.example'], 'Account: carol@example.com\r\n'));
  add('from-name-with-crlf-in-encoded-word', mail(base('Priority rebuild', `=?UTF-8?B?${b64('John\r\nBcc: victim@evil.example\r\n')}?= <dave@example.com>`, 'inj4'), 'Account: dave@example.com\r\n'));
  add('from-name-with-q-encoded-crlf', mail(base('Priority rebuild', '=?UTF-8?Q?John=0D=0ATo:_victim@evil.example?= <erin@example.com>', 'inj5'), 'Account: erin@example.com\r\n'));
  add('from-address-with-two-addresses-hidden', mail(base('Priority rebuild', '"frank@example.com, victim@evil.example" <frank@example.com>', 'inj6'), 'Account: frank@example.com\r\n'));
  add('message-id-with-crlf', mail([...base('Priority rebuild', undefined, 'inj7').slice(0, 3), `Message-ID: =?UTF-8?B?${b64('<a@b>\r\nBcc: victim@evil.example')}?=`], 'Account: jdoe@example.com\r\n'));

  // Shell metacharacters in account names: none of these is a valid account, none may reach a command.
  const shellish = ['jdoe@example.com; rm -rf /', '$(touch /tmp/pwned)@example.com', '`id`@example.com', 'jdoe@example.com|cat /etc/passwd', '-rf@example.com', 'jdoe@example.com && reboot', "jdoe'@example.com", 'jdoe@example.com\nend evil@example.com', '../../etc/passwd@example.com', 'jdoe@exa$IFS$9mple.com'];
  shellish.forEach((account, i) => {
    add(`shell-metacharacters-${i}`, mail(base(`Priority rebuild for ${account}`, undefined, `shell${i}`), `Account: ${account}\r\nusername: ${account}\r\n`));
  });
  return cases;
}

/** mulberry32: a small seeded generator, so a failing run can be replayed from its seed. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fixtures() {
  return readdirSync(FIXTURES)
    .filter((n) => n.endsWith('.eml'))
    .sort()
    .map((name) => ({ name, raw: readFileSync(join(FIXTURES, name)) }));
}

const STRAYS = [Buffer.from('\r'), Buffer.from('\n'), Buffer.from('\0'), Buffer.from('\r\n'), Buffer.from('\r\n\r\n'), Buffer.from('\r\n.\r\n'), Buffer.from('\xff', 'latin1')];

/** The mutation operators, each (buffer, random) → buffer. */
const OPERATORS = {
  flipBytes(buf, rnd) {
    const out = Buffer.from(buf);
    const flips = 1 + Math.floor(rnd() * 16);
    for (let i = 0; i < flips && out.length > 0; i++) out[Math.floor(rnd() * out.length)] = Math.floor(rnd() * 256);
    return out;
  },
  truncate(buf, rnd) {
    return buf.subarray(0, Math.floor(rnd() * buf.length));
  },
  duplicateHeaderLine(buf, rnd) {
    const text = buf.toString('latin1');
    const end = text.search(/\r?\n\r?\n/);
    const head = end >= 0 ? text.slice(0, end) : text;
    const lines = head.split(/\r?\n/);
    const pick = Math.floor(rnd() * lines.length);
    const times = 1 + Math.floor(rnd() * (rnd() < 0.1 ? 500 : 5));
    lines.splice(pick, 0, ...Array.from({ length: times }, () => lines[pick]));
    return Buffer.from(lines.join('\r\n') + (end >= 0 ? text.slice(end) : ''), 'latin1');
  },
  damageBoundary(buf, rnd) {
    let text = buf.toString('latin1');
    const match = /boundary="?([^";\r\n]+)"?/i.exec(text);
    if (!match) return OPERATORS.insertStray(buf, rnd);
    const boundary = match[1];
    const choice = rnd();
    if (choice < 0.25) text = text.replace(match[0], 'boundary=""');
    else if (choice < 0.5) text = text.split(`--${boundary}`).join(`--${boundary.slice(0, -1)}`);
    else if (choice < 0.75) text = text.replace(`--${boundary}--`, '');
    else text = text.replace(match[0], `boundary="${boundary}"; boundary="${'z'.repeat(Math.floor(rnd() * 100))}"`);
    return Buffer.from(text, 'latin1');
  },
  insertStray(buf, rnd) {
    const parts = [];
    let at = 0;
    const inserts = 1 + Math.floor(rnd() * 8);
    const points = Array.from({ length: inserts }, () => Math.floor(rnd() * (buf.length + 1))).sort((x, y) => x - y);
    for (const p of points) {
      parts.push(buf.subarray(at, p), STRAYS[Math.floor(rnd() * STRAYS.length)]);
      at = p;
    }
    parts.push(buf.subarray(at));
    return Buffer.concat(parts);
  },
  deleteRange(buf, rnd) {
    const from = Math.floor(rnd() * buf.length);
    const to = Math.min(buf.length, from + Math.floor(rnd() * 200));
    return Buffer.concat([buf.subarray(0, from), buf.subarray(to)]);
  },
  repeatRange(buf, rnd) {
    const from = Math.floor(rnd() * buf.length);
    const slice = buf.subarray(from, Math.min(buf.length, from + Math.floor(rnd() * 300)));
    return Buffer.concat([buf.subarray(0, from), ...Array.from({ length: 1 + Math.floor(rnd() * 20) }, () => slice), buf.subarray(from)]);
  },
};
const OPERATOR_NAMES = Object.keys(OPERATORS);

/**
 * `count` mutated messages from the fixtures, the same for the same seed. Each applies one to four
 * operators to one fixture; a tenth of them also get a fresh Message-ID, so the bot stores them as
 * new requests instead of recognising a re-delivery.
 * @returns {Generator<{ name: string, raw: Buffer }>}
 */
function* mutations(seed, count) {
  const rnd = prng(seed);
  const sources = fixtures();
  for (let i = 0; i < count; i++) {
    const source = sources[Math.floor(rnd() * sources.length)];
    let raw = source.raw;
    const ops = [];
    for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) {
      const op = OPERATOR_NAMES[Math.floor(rnd() * OPERATOR_NAMES.length)];
      ops.push(op);
      raw = OPERATORS[op](raw, rnd);
    }
    if (rnd() < 0.1) raw = Buffer.concat([Buffer.from(`Message-ID: <fuzz-${seed}-${i}@corpus.test>\r\n`), raw]);
    yield { name: `${source.name}#${i}:${ops.join('+')}`, raw };
  }
}

module.exports = { handCrafted, mutations, OPERATOR_NAMES };

if (require.main === module) {
  const args = process.argv.slice(2);
  const arg = (name, fallback) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : fallback;
  };
  const seed = Number(arg('--seed', String(Date.now() % 2 ** 31)));
  const count = Number(arg('--count', '10000'));
  const out = resolve(arg('--out', './var/hostile-corpus'));
  mkdirSync(out, { recursive: true });
  let n = 0;
  for (const c of handCrafted()) writeFileSync(join(out, `hand-${String(n++).padStart(5, '0')}-${c.name}.eml`), c.raw);
  for (const m of mutations(seed, count)) writeFileSync(join(out, `fuzz-${String(n++).padStart(5, '0')}.eml`), m.raw);
  process.stdout.write(`seed ${seed}: ${n} messages written to ${out}\n`);
}
