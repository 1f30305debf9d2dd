import { z } from 'zod';

/**
 * Settings come from the environment only (SPEC §4.2). They are read once by the entry point, checked
 * against this schema with every problem reported in one message, then frozen; other modules receive
 * the values they need as arguments.
 */

const MiB = 1024 * 1024;

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

const addressPattern = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+$/;
const address = z.string().regex(addressPattern, 'must be an email address like name@example.com');

const addressList = z
  .string()
  .transform((s) => s.split(',').map((a) => a.trim().toLowerCase()).filter(Boolean))
  .pipe(z.array(address).min(1, 'must list at least one address'));

/** An argv template: a JSON array of strings, `{account}` replaced at run time. Never a shell line. */
const argv = z
  .string()
  .transform((s, ctx) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of strings, e.g. ["reconstruct","-r","-f","-u","{account}"]' });
      return z.NEVER;
    }
  })
  .pipe(z.array(z.string(), { message: 'must be a JSON array of strings' }).min(1, 'must name a program'));

const redisUrl = z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://');

const schema = z
  .object({
    REDIS_URL: redisUrl.optional(),
    QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, . _ - only').default('rebuild-desk'),
    SMTP_HOST: z.string().default('127.0.0.1'),
    SMTP_PORT: port.default(2525),
    SMTP_LMTP: bool.default(false),
    SMTP_MAX_SIZE: positiveInt.default(10 * MiB),
    SMTP_MAX_CONNECTIONS: positiveInt.default(500),
    SMTP_MAX_CONNECTIONS_PER_IP: positiveInt.default(50),
    SMTP_IDLE_TIMEOUT_MS: positiveInt.default(60_000),
    SMTP_SESSION_TIMEOUT_MS: positiveInt.default(600_000),
    SMTP_MAX_RECIPIENTS: positiveInt.default(20),
    SMTP_MAX_HEADER_SIZE: positiveInt.default(256 * 1024),
    SMTP_TLS_KEY: z.string().optional(),
    SMTP_TLS_CERT: z.string().optional(),
    INTAKE_ADDRESSES: addressList.default(['webmaster@localhost']),
    FROM_ADDRESS: address.transform((a) => a.toLowerCase()).default('webmaster@localhost'),
    DEFAULT_DOMAIN: z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be a domain name').transform((d) => d.toLowerCase()).default('example.com'),
    ACCOUNTS_FILE: z.string().default('./examples/accounts.csv'),
    OUTBOUND_SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://').optional(),
    OUTBOX_DIR: z.string().default('./var/outbox'),
    DATA_DIR: z.string().default('./var'),
    TEMPLATES_DIR: z.string().default('./templates'),
    FORWARD_TO: address.optional(),
    REBUILD_COMMAND: argv.optional(),
    VERIFY_COMMAND: argv.optional(),
    ENABLE_COMMAND: argv.optional(),
    REBUILD_TIMEOUT_MS: positiveInt.default(60 * 60_000),
    REBUILD_ATTEMPTS: positiveInt.default(5),
    REBUILD_RETRY_DELAY_MS: positiveInt.default(30_000),
    REBUILD_LOCK_MS: positiveInt.default(60_000),
    /** First wait before a notice is tried again while the relay is down; each retry waits twice as long. */
    NOTICE_RETRY_DELAY_MS: positiveInt.default(10_000),
    SIMULATED_REBUILD_MS: z.coerce.number().int().min(0).default(2_000),
    WORKER_CONCURRENCY: positiveInt.default(4),
    /** SMTP intake processes (cluster workers sharing the port); `auto` is one per CPU. See intake/intake-cluster.ts. */
    INTAKE_PROCESSES: z
      .string()
      .regex(/^(auto|[1-9][0-9]*)$/, 'must be a number of processes or auto')
      .transform((v) => (v === 'auto' ? ('auto' as const) : Number(v)))
      .default(1),
    HTTP_HOST: z.string().default('127.0.0.1'),
    HTTP_PORT: port.default(8080),
    STAFF_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
    SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    AUTH_MODE: z.enum(['off', 'trust-header', 'verify']).default('off'),
    TRUSTED_AUTHSERV_ID: z.string().optional(),
    RATE_LIMIT_PER_SENDER: positiveInt.default(5),
    RATE_LIMIT_PER_ACCOUNT: positiveInt.default(5),
    RATE_LIMIT_WINDOW_S: positiveInt.default(3600),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((c, ctx) => {
    if (c.AUTH_MODE === 'trust-header' && !c.TRUSTED_AUTHSERV_ID) {
      ctx.addIssue({ code: 'custom', path: ['TRUSTED_AUTHSERV_ID'], message: 'is required when AUTH_MODE=trust-header' });
    }
    if (Boolean(c.SMTP_TLS_KEY) !== Boolean(c.SMTP_TLS_CERT)) {
      ctx.addIssue({ code: 'custom', path: [c.SMTP_TLS_KEY ? 'SMTP_TLS_CERT' : 'SMTP_TLS_KEY'], message: 'SMTP_TLS_KEY and SMTP_TLS_CERT go together' });
    }
  });

type Parsed = z.infer<typeof schema>;

export type Config = Readonly<
  Omit<Parsed, 'REDIS_URL'> & {
    REDIS_URL: string;
    /** True when REDIS_URL was not given: `serve` may then start a private redis-server. */
    REDIS_URL_DEFAULTED: boolean;
  }
>;

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment. Empty strings count as unset: `FOO=` in an env file or compose file means
 * "no value", and zod would otherwise apply no default to it.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') input[key] = value.trim();
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = issue.path.join('.') || 'settings';
      const given = input[name];
      return `${name}: ${issue.message}${given !== undefined && !/PASSWORD|SECRET/.test(name) ? ` (got ${JSON.stringify(given)})` : ''}`;
    });
    throw new ConfigError(problems);
  }
  const parsed = result.data;
  return Object.freeze({
    ...parsed,
    REDIS_URL: parsed.REDIS_URL ?? DEFAULT_REDIS_URL,
    REDIS_URL_DEFAULTED: parsed.REDIS_URL === undefined,
  });
}

/** Variable names, for `--help`. */
export const SETTING_NAMES = Object.keys(schema.shape);
