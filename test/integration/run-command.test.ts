import { CommandFailed, InvalidAccount, runCommand } from '../../src/worker/run-command';

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

  test('a timeout ends the step even when something the program started holds its output open', async () => {
    const started = Date.now();
    const err = await runCommand(['sh', '-c', 'sleep 60 & wait'], 'jdoe@example.com', 300).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/timed out after 300 ms/);
    // The timeout and the kill grace, far below the 60 s the grandchild holds the output open for.
    expect(Date.now() - started).toBeLessThan(25_000);
  }, 40_000);
});
