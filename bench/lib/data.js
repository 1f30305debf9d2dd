'use strict';
/** Generated inputs: the accounts directory, the backlog file and request messages. */
const { createWriteStream } = require('node:fs');
const { once } = require('node:events');

const INTAKE = 'webmaster@localhost';

/** Intake accounts: u<i>@example.com; priority-request accounts for time-to-front: p<i>@example.com. */
const intakeAccount = (i) => `u${i}@example.com`;
const priorityAccount = (i) => `p${i}@example.com`;
/** Backlog accounts, about the length of real addresses (22-26 characters). */
const backlogAccount = (i) => `mailbox${i}.user@example.net`;

async function writeLines(path, count, line, header) {
  const out = createWriteStream(path);
  if (header) out.write(`${header}\n`);
  let chunk = '';
  for (let i = 0; i < count; i++) {
    chunk += `${line(i)}\n`;
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

async function writeDirectory(path, intakeCount, priorityCount) {
  await writeLines(path, intakeCount + priorityCount, (i) => `${i < intakeCount ? intakeAccount(i) : priorityAccount(i - intakeCount)},`, 'account,addresses');
}

async function writeBacklog(path, count) {
  await writeLines(path, count, backlogAccount);
}

/** A priority rebuild request from the account's own address, as a customer writes it. */
function requestMessage(account, seq, extra = '') {
  const data = Buffer.from(
    [
      `From: Customer ${seq} <${account}>`,
      `To: ${INTAKE}`,
      'Subject: Priority rebuild',
      `Message-ID: <bench-${process.pid}-${seq}-${Date.now()}@client.example>`,
      `Date: ${new Date().toUTCString()}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Hello,',
      '',
      'My mailbox shows no messages since this morning. Please rebuild it as soon as you can.',
      `Account: ${account}`,
      '',
      'Thank you,',
      `Customer ${seq}`,
      extra,
      '',
    ].join('\r\n'),
  );
  return { from: account, to: INTAKE, data };
}

/**
 * A message of about `size` bytes: the request in a text part and a base64 attachment filling the
 * rest. The attachment body is one shared Buffer, so building a message costs the client nothing.
 */
function bigMessageFactory(size) {
  const boundary = 'bench-boundary-0123456789';
  const line = `${'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0'}\r\n`; // 76 + CRLF
  const bodyBudget = size - 2048;
  const attachment = Buffer.from(line.repeat(Math.floor(bodyBudget / line.length)));
  return (account, seq) => {
    const head = Buffer.from(
      [
        `From: <${account}>`,
        `To: ${INTAKE}`,
        'Subject: Priority rebuild',
        `Message-ID: <big-${process.pid}-${seq}-${Date.now()}@client.example>`,
        'MIME-Version: 1.0',
        `Content-Type: multipart/mixed; boundary="${boundary}"`,
        '',
        `--${boundary}`,
        'Content-Type: text/plain; charset=utf-8',
        '',
        `Please rebuild my mailbox. Account: ${account}`,
        `--${boundary}`,
        'Content-Type: application/octet-stream; name="mailbox-export.bin"',
        'Content-Transfer-Encoding: base64',
        'Content-Disposition: attachment; filename="mailbox-export.bin"',
        '',
        '',
      ].join('\r\n'),
    );
    const tail = Buffer.from(`--${boundary}--\r\n`);
    return { from: account, to: INTAKE, parts: [head, attachment, tail], size: head.length + attachment.length + tail.length };
  };
}

module.exports = { INTAKE, intakeAccount, priorityAccount, backlogAccount, writeDirectory, writeBacklog, requestMessage, bigMessageFactory };
