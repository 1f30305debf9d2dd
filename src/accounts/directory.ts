/**
 * The accounts CSV (SPEC §4.3): `account,addresses[,server]` with a header line, `addresses` a
 * `;`-separated list of other addresses entitled to ask for the account. Loaded once, looked up in
 * memory, re-read when the file changes.
 *
 * Sized for an outage backlog of millions of mailboxes: the file is read as a stream and split into
 * lines by hand (no CSV library, no per-row objects), and each account keeps one flat string (see Table).
 */
import { createReadStream, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { normalizeAccount } from './account-name';

export interface AccountEntry {
  account: string;
  /** Other addresses entitled to ask for this account, lower-cased (the account itself always is). */
  addresses: readonly string[];
  server?: string;
}

export interface AccountLookup {
  get(account: string): AccountEntry | undefined;
  has(account: string): boolean;
  /** The account itself or one of its registered addresses. Case-insensitive. */
  isEntitled(account: string, sender: string): boolean;
  readonly size: number;
}

/** What one load found, for the start-up log and the reload callback. */
export interface LoadInfo {
  file: string;
  accounts: number;
  /** Rows skipped because the account name is not a valid account (see account-name.ts). */
  skipped: number;
  /** Line numbers (1-based) of the first MAX_SKIPPED_EXAMPLES skipped rows. */
  skippedLines: number[];
  /** Rows naming an account already seen; the later row wins. */
  duplicates: number;
  durationMs: number;
}

/** Enough line numbers to find the pattern of a bad export without flooding the log. */
const MAX_SKIPPED_EXAMPLES = 10;

/**
 * Editors and exporters write a file in several steps (truncate, write, rename); reloading after the
 * events have been quiet this long reads the finished file once instead of a half-written one.
 */
const RELOAD_DEBOUNCE_MS = 200;

/**
 * account → its registered addresses joined with ';' ('' when none), then, when the row names a
 * server, a tab and the server. One flat string per account and a single Map keep a million rows to
 * one hash insert and two small strings each; addresses never contain whitespace (joinAddresses drops
 * such entries), so the tab is unambiguous.
 */
type Table = Map<string, string>;

export class AccountDirectory implements AccountLookup {
  private table: Table;
  private watcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private reloading: Promise<void> | null = null;
  private reloadAgain = false;

  private constructor(
    readonly file: string,
    table: Table,
    private info: LoadInfo,
  ) {
    this.table = table;
  }

  /** Reads the file; throws when it is missing, unreadable or has no `account` column. */
  static async load(path: string): Promise<AccountDirectory> {
    const file = resolve(path);
    const { table, info } = await readAccountsFile(file);
    return new AccountDirectory(file, table, info);
  }

  get size(): number {
    return this.table.size;
  }

  /** What the last successful load found. */
  get lastLoad(): LoadInfo {
    return this.info;
  }

  has(account: string): boolean {
    return this.table.has(account.trim().toLowerCase());
  }

  get(account: string): AccountEntry | undefined {
    const key = account.trim().toLowerCase();
    const value = this.table.get(key);
    if (value === undefined) return undefined;
    const tab = value.indexOf('\t');
    const joined = tab === -1 ? value : value.slice(0, tab);
    const entry: AccountEntry = { account: key, addresses: joined ? joined.split(';') : [] };
    return tab === -1 ? entry : { ...entry, server: value.slice(tab + 1) };
  }

  isEntitled(account: string, sender: string): boolean {
    const key = account.trim().toLowerCase();
    const from = sender.trim().toLowerCase();
    const value = this.table.get(key);
    if (value === undefined || !from) return false;
    if (from === key) return true;
    const tab = value.indexOf('\t');
    return (tab === -1 ? value : value.slice(0, tab)).split(';').includes(from);
  }

  /**
   * Re-reads the file whenever it changes. The directory is watched rather than the file, so that an
   * export written elsewhere and renamed over the file (the safe way to replace it) is seen too. A
   * reload that fails keeps the accounts already loaded and reports through onError.
   */
  watch(onReload?: (info: LoadInfo) => void, onError?: (err: Error) => void): void {
    if (this.watcher) return;
    const name = basename(this.file);
    this.watcher = watch(dirname(this.file), (_event, changed) => {
      if (changed !== null && changed.toString() !== name) return;
      if (this.debounce) clearTimeout(this.debounce);
      this.debounce = setTimeout(() => {
        this.debounce = null;
        this.reloadSoon(onReload, onError);
      }, RELOAD_DEBOUNCE_MS);
    });
    this.watcher.on('error', (err) => onError?.(err));
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = null;
  }

  /** Reloads now, keeping the current accounts when the file cannot be read. */
  async reload(): Promise<LoadInfo> {
    const { table, info } = await readAccountsFile(this.file);
    // A file caught mid-write by a non-atomic writer reads as a header with no rows; taking it would
    // make every customer's account "unknown" until the next change.
    if (info.accounts === 0 && this.size > 0) {
      throw new Error(`${this.file}: no valid account rows; keeping the ${this.size} accounts loaded before`);
    }
    this.table = table;
    this.info = info;
    return info;
  }

  /** One reload at a time; changes seen meanwhile trigger one more. */
  private reloadSoon(onReload?: (info: LoadInfo) => void, onError?: (err: Error) => void): void {
    if (this.reloading) {
      this.reloadAgain = true;
      return;
    }
    this.reloading = this.reload()
      .then(
        (info) => onReload?.(info),
        (err: unknown) => onError?.(err instanceof Error ? err : new Error(String(err))),
      )
      .finally(() => {
        this.reloading = null;
        if (this.reloadAgain && this.watcher) {
          this.reloadAgain = false;
          this.reloadSoon(onReload, onError);
        }
      });
  }
}

async function readAccountsFile(file: string): Promise<{ table: Table; info: LoadInfo }> {
  const started = Date.now();
  const table: Table = new Map();
  const info: LoadInfo = { file, accounts: 0, skipped: 0, skippedLines: [], duplicates: 0, durationMs: 0 };
  let columns: { account: number; addresses: number; server: number } | null = null;

  const handleLine = (buf: Buffer, start: number, end: number, lineNumber: number) => {
    if (end > start && buf[end - 1] === 0x0d) end--;
    const fields = splitCsvFields(buf, start, end);
    if (!columns) {
      if (fields.length === 1 && fields[0]!.trim() === '') return;
      const names = fields.map((f) => f.replace(/^\ufeff/, '').trim().toLowerCase());
      columns = { account: names.indexOf('account'), addresses: names.indexOf('addresses'), server: names.indexOf('server') };
      if (columns.account === -1) {
        const got = buf.toString('utf8', start, Math.min(end, start + 200));
        throw new Error(`${file}: the header line has no "account" column (expected account,addresses[,server]; got ${JSON.stringify(got)})`);
      }
      return;
    }
    const account = normalizeAccount(fields[columns.account] ?? '');
    if (!account) {
      if (fields.length === 1 && fields[0]!.trim() === '') return;
      info.skipped++;
      if (info.skippedLines.length < MAX_SKIPPED_EXAMPLES) info.skippedLines.push(lineNumber);
      return;
    }
    const addresses = columns.addresses === -1 ? '' : joinAddresses(fields[columns.addresses] ?? '');
    const server = columns.server === -1 ? '' : (fields[columns.server] ?? '').trim().replace(/\s+/g, ' ');
    const before = table.size;
    // toLowerCase() of a concatenation returns one flat string; host names are case-insensitive.
    table.set(account, server ? `${addresses}\t${server}`.toLowerCase() : addresses);
    if (table.size === before) info.duplicates++;
  };

  let lineNumber = 0;
  let carry: Buffer | null = null;
  const stream = createReadStream(file, { highWaterMark: 1024 * 1024 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
      let start = 0;
      for (let lf = buf.indexOf(0x0a); lf !== -1; lf = buf.indexOf(0x0a, start)) {
        handleLine(buf, start, lf, ++lineNumber);
        start = lf + 1;
      }
      carry = start < buf.length ? buf.subarray(start) : null;
    }
    if (carry) handleLine(carry, 0, carry.length, ++lineNumber);
  } catch (err) {
    stream.destroy();
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string') throw new Error(`${file}: cannot read the accounts file (${code})`, { cause: err });
    throw err;
  }
  if (!columns) throw new Error(`${file}: the accounts file is empty (expected a header line account,addresses[,server])`);

  info.accounts = table.size;
  info.durationMs = Date.now() - started;
  return { table, info };
}

/**
 * The fields of one line, each decoded on its own from the file's bytes: a fresh string per field
 * rather than slices of a line or chunk, which V8 would keep alive behind every stored account.
 */
function splitCsvFields(buf: Buffer, start: number, end: number): string[] {
  const fields: string[] = [];
  let from = start;
  for (let i = start; i < end; i++) {
    const byte = buf[i];
    if (byte === 0x22) return splitCsvLine(buf.toString('utf8', start, end));
    if (byte === 0x2c) {
      fields.push(buf.toString('utf8', from, i));
      from = i + 1;
    }
  }
  fields.push(buf.toString('utf8', from, end));
  return fields;
}

/**
 * Splits one CSV line. A field in double quotes may hold `,` or `;`, and `""` inside it is a quote
 * (RFC 4180 §2); a quoted field spanning lines is not supported, as no address list needs one.
 */
function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const fields: string[] = [];
  let i = 0;
  while (i <= line.length) {
    while (line[i] === ' ') i++;
    if (line[i] === '"') {
      let value = '';
      i++;
      while (i < line.length) {
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += line[i++];
      }
      const comma = line.indexOf(',', i);
      fields.push(value);
      if (comma === -1) break;
      i = comma + 1;
    } else {
      const comma = line.indexOf(',', i);
      fields.push(line.slice(i, comma === -1 ? undefined : comma));
      if (comma === -1) break;
      i = comma + 1;
    }
  }
  return fields;
}

/**
 * Registered addresses, lower-cased, trimmed and joined with ';' into one string. Entries without an
 * `@` or with spaces are dropped: they could never equal a From address.
 */
function joinAddresses(field: string): string {
  const lower = field.toLowerCase();
  if (lower === '' || (!/[\s,]|;;|^;|;$/.test(lower) && lower.split(';').every((a) => a.includes('@')))) return lower;
  return lower
    .split(/[;,]/)
    .map((a) => a.trim())
    .filter((a) => a.includes('@') && !/\s/.test(a))
    .join(';');
}
