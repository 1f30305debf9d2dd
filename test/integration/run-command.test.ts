import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandFailed, InvalidAccount, runCommand } from '../../src/worker/run-command';

/** Running, as opposed to gone or a zombie waiting to be reaped (state Z in /proc). */
const running = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('running a rebuild step', () => {
  test('the account reaches the program as one argument, never through a shell', async () => {
    const result = await runCommand(['printf', '%s|', '{account}', 'x{account}y'], 'jdoe@example.com', 5_000);
    expect(result.tail).toBe('jdoe@example.com|xjdoe@example.comy|');
  });

  test('an invalid account name is refused before anything runs', async () => {
    await expect(runCommand(['true'], '-rf@example.com', 5_000)).rejects.toBeInstanceOf(InvalidAccount);
    await expect(runCommand(['true'], 'a;b@example.com', 5_000)).rejects.toBeInstanceOf(InvalidAccount);
  });

  test('a failing program fails the step and keeps its output', async () => {
    const err = await runCommand(['sh', '-c', 'echo no such user >&2; exit 3'], 'jdoe@example.com', 5_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    expect((err as CommandFailed).exitCode).toBe(3);
    expect((err as CommandFailed).tail).toContain('no such user');
  });

  test('a timeout stops what the program started too, not only the program', async () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'rebuild-desk-run-')), 'pid');
    const started = Date.now();
    const err = await runCommand(['sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`], 'jdoe@example.com', 300).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/timed out after 300 ms/);
    // Far below the 30 s the grandchild would hold the output open for.
    expect(Date.now() - started).toBeLessThan(8_000);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((r) => setTimeout(r, 100));
    expect(running(grandchild)).toBe(false);
  });
});
