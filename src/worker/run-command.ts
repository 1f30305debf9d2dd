import { spawn } from 'node:child_process';
import { isValidAccount } from '../accounts/account-name';

/**
 * Runs one step of a rebuild (REBUILD_COMMAND, VERIFY_COMMAND, ENABLE_COMMAND): an argv template whose
 * `{account}` is replaced, started without a shell, so no text from an email can run as a command
 * (SPEC §2.2). The account is checked against the strict pattern again here, the last door before it
 * reaches a program.
 */

/** Enough of the output to see why a rebuild failed, small enough to keep on every job. */
const OUTPUT_TAIL_BYTES = 4 * 1024;
/** After the timeout, SIGTERM; a program that ignores it is killed this much later. */
const KILL_GRACE_MS = 10_000;

export class CommandFailed extends Error {
  constructor(
    message: string,
    readonly tail: string,
    readonly exitCode: number | null,
  ) {
    super(message);
    this.name = 'CommandFailed';
  }
}

export class InvalidAccount extends Error {
  constructor(account: string) {
    super(`refusing to run a command for an invalid account name ${JSON.stringify(account)}`);
    this.name = 'InvalidAccount';
  }
}

export function expandArgv(template: readonly string[], account: string): string[] {
  if (!isValidAccount(account)) throw new InvalidAccount(account);
  return template.map((part) => part.split('{account}').join(account));
}

export interface CommandResult {
  argv: string[];
  tail: string;
  durationMs: number;
}

export async function runCommand(template: readonly string[], account: string, timeoutMs: number): Promise<CommandResult> {
  const argv = expandArgv(template, account);
  const started = Date.now();
  const [program, ...args] = argv;
  return new Promise<CommandResult>((resolve, reject) => {
    const child = spawn(program, args, { shell: false, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, REBUILD_ACCOUNT: account } });
    let tail = Buffer.alloc(0);
    const keep = (chunk: Buffer) => {
      tail = Buffer.concat([tail, chunk]);
      if (tail.length > OUTPUT_TAIL_BYTES) tail = tail.subarray(tail.length - OUTPUT_TAIL_BYTES);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);

    let settled = false;
    const settle = (err: CommandFailed | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      if (err) reject(err);
      else resolve({ argv, tail: tail.toString('utf8'), durationMs: Date.now() - started });
    };
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      // Settled here even if 'close' never comes: something the program started (a wrapper's
      // `reconstruct`, a hung NFS call) may hold its output open, and the step must not outlive the
      // timeout by more than the grace, or the account would stay "rebuilding" for ever.
      killTimer = setTimeout(() => {
        child.kill('SIGKILL');
        child.stdout.destroy();
        child.stderr.destroy();
        settle(new CommandFailed(`${program} timed out after ${timeoutMs} ms`, tail.toString('utf8'), null));
      }, KILL_GRACE_MS);
    }, timeoutMs);

    child.on('error', (err) => settle(new CommandFailed(`${program}: ${err.message}`, '', null)));
    child.on('close', (code, signal) => {
      if (timedOut) return settle(new CommandFailed(`${program} timed out after ${timeoutMs} ms`, tail.toString('utf8'), code));
      if (code !== 0) return settle(new CommandFailed(`${program} exited with ${code ?? signal}`, tail.toString('utf8'), code));
      settle(null);
    });
  });
}
