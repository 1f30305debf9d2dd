import pino from 'pino';

/**
 * The root logger. Child loggers carry a request id or job id. Message bodies, passwords and session
 * secrets are never logged: callers log ids, addresses and decisions only, and the redact list below
 * catches the field names that could carry secrets if someone logs a whole object by mistake.
 */
export type Logger = pino.Logger;

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'rebuild-desk' },
      redact: { paths: ['password', '*.password', 'raw', '*.raw', 'text', '*.text', 'secret', '*.secret', 'cookie', '*.cookie'], censor: '[redacted]' },
    },
    destination ?? pino.destination(2),
  );
}

/** For tests and one-shot commands that want no log output. */
export const silentLogger: Logger = pino({ level: 'silent' });
