import { createInterface } from 'node:readline';
import type { Services } from '../services';
import { MIN_PASSWORD_LENGTH, normalizeStaffName, StaffStore } from '../web/staff-store';

/**
 * `rebuild-desk staff add NAME` (SPEC §4.1): creates or resets a staff login. The password is typed at a
 * prompt without echo, twice, or read as one line from stdin for scripts (`… staff add ana < file`). It
 * is never an argument: arguments end up in shell history and in `ps` output for every local user.
 */

export interface StaffCommandIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  /** stdin is a terminal: prompt, and do not echo. */
  isTTY: boolean;
}

const USAGE = 'usage: staff add NAME   (password from the prompt, or one line on stdin)\n';
const EX_USAGE = 64;
/** sysexits(3) EX_DATAERR: the password given is not acceptable. */
const EX_DATAERR = 65;

export async function runStaffCommand(args: string[], services: Services, io: StaffCommandIo): Promise<number> {
  const [action, nameInput, ...rest] = args[0] === 'staff' ? args.slice(1) : args;
  if (action !== 'add' || !nameInput || rest.length > 0) {
    io.stdout.write(USAGE);
    return EX_USAGE;
  }
  const name = normalizeStaffName(nameInput);
  if (!name) {
    io.stdout.write('staff: a name is 1-64 lower-case letters, digits, ".", "_" or "-"\n');
    return EX_USAGE;
  }

  let password: string;
  if (io.isTTY) {
    password = await readHidden(io, `Password for ${name} (at least ${MIN_PASSWORD_LENGTH} characters): `);
    if (password.length >= MIN_PASSWORD_LENGTH && (await readHidden(io, 'Again: ')) !== password) {
      io.stdout.write('staff: the two passwords differ; nothing changed\n');
      return EX_DATAERR;
    }
  } else {
    password = await readLine(io.stdin);
  }
  if (password.length < MIN_PASSWORD_LENGTH) {
    io.stdout.write(`staff: a password needs at least ${MIN_PASSWORD_LENGTH} characters; nothing changed\n`);
    return EX_DATAERR;
  }

  const staff = new StaffStore(services.redis, services.config.QUEUE_PREFIX);
  const existed = await staff.exists(name);
  await staff.setPassword(name, password);
  io.stdout.write(`staff login ${name} ${existed ? 'reset' : 'created'}\n`);
  return 0;
}

async function readLine(stdin: NodeJS.ReadableStream): Promise<string> {
  const lines = createInterface({ input: stdin, crlfDelay: Infinity, terminal: false });
  try {
    for await (const line of lines) return line;
    return '';
  } finally {
    lines.close();
  }
}

/** Reads one line from a terminal in raw mode, echoing nothing, so the password is not on screen. */
function readHidden(io: StaffCommandIo, prompt: string): Promise<string> {
  const tty = io.stdin as NodeJS.ReadStream;
  io.stdout.write(prompt);
  const wasRaw = tty.isRaw ?? false;
  tty.setRawMode?.(true);
  tty.setEncoding('utf8');
  tty.resume();
  return new Promise((resolve, reject) => {
    let chars: string[] = [];
    const finish = () => {
      tty.off('data', onData);
      tty.setRawMode?.(wasRaw);
      tty.pause();
      io.stdout.write('\n');
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          resolve(chars.join(''));
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new Error('cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') chars = chars.slice(0, -1);
        else if (ch >= ' ') chars.push(ch);
      }
    };
    tty.on('data', onData);
  });
}
