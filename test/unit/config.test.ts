import { ConfigError, loadConfig } from '../../src/config';

describe('settings', () => {
  test('defaults let the bot start with no environment at all', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_URL_DEFAULTED: true,
      QUEUE_PREFIX: 'rebuild-desk',
      SMTP_PORT: 2525,
      SMTP_LMTP: false,
      SMTP_MAX_SIZE: 10 * 1024 * 1024,
      WORKER_CONCURRENCY: 4,
      HTTP_PORT: 8080,
      AUTH_MODE: 'off',
      OUTBOX_DIR: './var/outbox',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  test('empty strings count as unset, so defaults still apply', () => {
    expect(loadConfig({ SMTP_PORT: '', REDIS_URL: ' ' })).toMatchObject({ SMTP_PORT: 2525, REDIS_URL_DEFAULTED: true });
  });

  test('values are parsed into their types', () => {
    const config = loadConfig({
      SMTP_LMTP: 'true',
      INTAKE_ADDRESSES: 'Webmaster@Example.com, help@example.com',
      REBUILD_COMMAND: '["reconstruct","-r","-f","-u","{account}"]',
      REDIS_URL: 'redis://redis:6379',
    });
    expect(config.SMTP_LMTP).toBe(true);
    expect(config.INTAKE_ADDRESSES).toEqual(['webmaster@example.com', 'help@example.com']);
    expect(config.REBUILD_COMMAND).toEqual(['reconstruct', '-r', '-f', '-u', '{account}']);
    expect(config.REDIS_URL_DEFAULTED).toBe(false);
  });

  test('every bad variable is named in one error', () => {
    let error: unknown;
    try {
      loadConfig({ SMTP_PORT: 'twenty-five', REBUILD_COMMAND: 'reconstruct -u {account}', AUTH_MODE: 'strict', INTAKE_ADDRESSES: 'not an address' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['SMTP_PORT', 'REBUILD_COMMAND', 'AUTH_MODE', 'INTAKE_ADDRESSES']) expect(message).toContain(name);
  });

  test('a shell line is refused as a rebuild command: it must be an argv array', () => {
    expect(() => loadConfig({ REBUILD_COMMAND: '"reconstruct -u {account}"' })).toThrow(/REBUILD_COMMAND/);
  });

  test('trust-header mode needs the trusted authserv-id', () => {
    expect(() => loadConfig({ AUTH_MODE: 'trust-header' })).toThrow(/TRUSTED_AUTHSERV_ID/);
  });

  test('secrets are never echoed back in the error', () => {
    expect(() => loadConfig({ STAFF_PASSWORD: 'short' })).toThrow(/STAFF_PASSWORD/);
    expect(() => loadConfig({ STAFF_PASSWORD: 'short' })).not.toThrow(/short"/);
  });
});
