import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountDirectory, type LoadInfo } from '../../src/accounts/directory';

let dir: string;
let open: AccountDirectory[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rebuild-desk-accounts-'));
});
afterEach(async () => {
  for (const d of open) d.close();
  open = [];
  await rm(dir, { recursive: true, force: true });
});

async function load(csv: string, name = 'accounts.csv'): Promise<AccountDirectory> {
  const file = join(dir, name);
  await writeFile(file, csv);
  const directory = await AccountDirectory.load(file);
  open.push(directory);
  return directory;
}

/** Resolves with the next reload (or reload failure) the watcher reports. */
function nextReload(directory: AccountDirectory): Promise<{ info?: LoadInfo; error?: Error }> {
  return new Promise((resolve) => directory.watch((info) => resolve({ info }), (error) => resolve({ error })));
}

describe('loading the accounts file', () => {
  test('the example file has the accounts the README and tests use', async () => {
    const directory = await AccountDirectory.load('examples/accounts.csv');
    for (const account of ['jdoe@example.com', 'alice@example.com', 'bob@example.com']) expect(directory.has(account)).toBe(true);
    expect(directory.isEntitled('alice@example.com', 'alice.backup@gmail.net')).toBe(true);
    expect(directory.isEntitled('jdoe@example.com', 'john.doe@gmail.com')).toBe(true);
    expect(directory.lastLoad.skipped).toBe(0);
  });

  test('rows become accounts with their registered addresses and server', async () => {
    const directory = await load('account,addresses,server\njdoe@example.com,john.doe@gmail.com;jd@work.example.org,imap1\nbob@example.com,,\n');
    expect(directory.size).toBe(2);
    expect(directory.get('jdoe@example.com')).toEqual({ account: 'jdoe@example.com', addresses: ['john.doe@gmail.com', 'jd@work.example.org'], server: 'imap1' });
    expect(directory.get('bob@example.com')).toEqual({ account: 'bob@example.com', addresses: [] });
    expect(directory.get('nobody@example.com')).toBeUndefined();
  });

  test('the server column is optional, and columns may come in any order', async () => {
    const directory = await load('addresses,account\nx@gmail.com,jdoe@example.com\n');
    expect(directory.get('jdoe@example.com')).toEqual({ account: 'jdoe@example.com', addresses: ['x@gmail.com'] });
  });

  test('names and addresses are matched case-insensitively', async () => {
    const directory = await load('Account,Addresses\nJDoe@Example.com,John.Doe@Gmail.com\n');
    expect(directory.has('jdoe@example.com')).toBe(true);
    expect(directory.has('JDOE@EXAMPLE.COM')).toBe(true);
    expect(directory.isEntitled('JDOE@example.com', 'JOHN.DOE@gmail.com')).toBe(true);
  });

  test.each<[string, string, string, boolean]>([
    ['the account itself', 'jdoe@example.com', 'jdoe@example.com', true],
    ['a registered address', 'jdoe@example.com', 'jd@work.example.org', true],
    ['another address', 'jdoe@example.com', 'someone@gmail.com', false],
    ['another account', 'jdoe@example.com', 'bob@example.com', false],
    ['an address registered for another account', 'bob@example.com', 'john.doe@gmail.com', false],
    ['an account that does not exist', 'nobody@example.com', 'nobody@example.com', false],
    ['an empty sender', 'jdoe@example.com', '', false],
  ])('entitlement: %s', async (_what, account, sender, expected) => {
    const directory = await load('account,addresses\njdoe@example.com,john.doe@gmail.com;jd@work.example.org\nbob@example.com,\n');
    expect(directory.isEntitled(account, sender)).toBe(expected);
  });

  test('rows with an invalid account are skipped and counted, with their line numbers', async () => {
    const bad = Array.from({ length: 12 }, (_, i) => `bad user ${i},x@y.example`);
    const directory = await load(['account,addresses', 'good@example.com,', '-rf@example.com,', ...bad, '$(reboot)@example.com,', 'ok@example.com,'].join('\n'));
    expect(directory.size).toBe(2);
    expect(directory.lastLoad.skipped).toBe(14);
    expect(directory.lastLoad.skippedLines).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  test('quoted fields may hold separators and quotes', async () => {
    const directory = await load('account,addresses,server\n"jdoe@example.com","a@gmail.com;b@work.example.org","imap, ""east"""\n');
    expect(directory.get('jdoe@example.com')).toEqual({ account: 'jdoe@example.com', addresses: ['a@gmail.com', 'b@work.example.org'], server: 'imap, "east"' });
  });

  test('CRLF line ends, a byte order mark, blank lines and stray spaces are fine', async () => {
    const directory = await load('\ufeffaccount,addresses\r\n\r\n jdoe@example.com , a@gmail.com ; ;b@gmail.com \r\n');
    expect(directory.get('jdoe@example.com')?.addresses).toEqual(['a@gmail.com', 'b@gmail.com']);
  });

  test('a later row for the same account replaces the earlier one and is counted', async () => {
    const directory = await load('account,addresses\njdoe@example.com,old@gmail.com\nJDOE@example.com,new@gmail.com\n');
    expect(directory.get('jdoe@example.com')?.addresses).toEqual(['new@gmail.com']);
    expect(directory.lastLoad.duplicates).toBe(1);
  });

  test('a missing file is an error naming it', async () => {
    await expect(AccountDirectory.load(join(dir, 'missing.csv'))).rejects.toThrow(/missing\.csv.*ENOENT/);
  });

  test('a file without an account column is an error naming it', async () => {
    await expect(load('user,addresses\njdoe@example.com,\n', 'wrong.csv')).rejects.toThrow(/wrong\.csv.*"account" column/);
  });

  test('an empty file is an error naming it', async () => {
    await expect(load('', 'empty.csv')).rejects.toThrow(/empty\.csv/);
  });
});

describe('following changes to the file', () => {
  test('a rewritten file is reloaded', async () => {
    const directory = await load('account,addresses\njdoe@example.com,\n');
    const reloaded = nextReload(directory);
    await writeFile(join(dir, 'accounts.csv'), 'account,addresses\njdoe@example.com,\nalice@example.com,\n');
    expect((await reloaded).info?.accounts).toBe(2);
    expect(directory.has('alice@example.com')).toBe(true);
  });

  test('a file renamed over it (atomic replace) is reloaded', async () => {
    const directory = await load('account,addresses\njdoe@example.com,\n');
    const reloaded = nextReload(directory);
    await writeFile(join(dir, 'accounts.csv.tmp'), 'account,addresses\nbob@example.com,\n');
    await rename(join(dir, 'accounts.csv.tmp'), join(dir, 'accounts.csv'));
    expect((await reloaded).info?.accounts).toBe(1);
    expect(directory.has('bob@example.com')).toBe(true);
    expect(directory.has('jdoe@example.com')).toBe(false);

    const again = nextReloadAfterFirst(directory);
    await writeFile(join(dir, 'accounts.csv'), 'account,addresses\nbob@example.com,\ncarol@example.com,\n');
    expect((await again).info?.accounts).toBe(2);
  });

  test('a reload that fails keeps the accounts already loaded', async () => {
    const directory = await load('account,addresses\njdoe@example.com,x@gmail.com\n');
    const reloaded = nextReload(directory);
    await writeFile(join(dir, 'accounts.csv'), 'not,a,directory\n');
    const { error } = await reloaded;
    expect(error?.message).toMatch(/accounts\.csv.*"account" column/);
    expect(directory.isEntitled('jdoe@example.com', 'x@gmail.com')).toBe(true);
  });

  test('a file caught with its header alone keeps the accounts already loaded', async () => {
    const directory = await load('account,addresses\njdoe@example.com,\n');
    const reloaded = nextReload(directory);
    await writeFile(join(dir, 'accounts.csv'), 'account,addresses\n');
    expect((await reloaded).error?.message).toMatch(/no valid account rows/);
    expect(directory.has('jdoe@example.com')).toBe(true);
  });

  test('changes to other files in the directory are ignored', async () => {
    const directory = await load('account,addresses\njdoe@example.com,\n');
    const seen: LoadInfo[] = [];
    directory.watch((info) => seen.push(info));
    await writeFile(join(dir, 'notes.txt'), 'hello');
    await new Promise((r) => setTimeout(r, 500));
    expect(seen).toEqual([]);
  });
});

/** A second watch() call is ignored, so later reloads are observed by wrapping reload(). */
function nextReloadAfterFirst(directory: AccountDirectory): Promise<{ info?: LoadInfo; error?: Error }> {
  return new Promise((resolve) => {
    const original = directory.reload.bind(directory);
    directory.reload = async () => {
      try {
        const info = await original();
        resolve({ info });
        return info;
      } catch (error) {
        resolve({ error: error as Error });
        throw error;
      }
    };
  });
}
