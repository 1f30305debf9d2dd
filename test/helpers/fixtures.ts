import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Real-looking messages as an MTA would deliver them: see test/fixtures/mail/. */
const MAIL_DIR = join(__dirname, '..', 'fixtures', 'mail');

export function readFixture(name: string): Buffer {
  return readFileSync(join(MAIL_DIR, name));
}

/** Every `.eml` fixture, sorted. */
export function fixtureNames(): string[] {
  return readdirSync(MAIL_DIR)
    .filter((name) => name.endsWith('.eml'))
    .sort();
}
