import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { Envelope, Outcome } from './handle-message';
import { LargeMessageGate } from './large-message-gate';

/**
 * The SMTP (or LMTP) listener: smtp-server options and callbacks, and the mapping from outcomes to SMTP
 * replies (SPEC §4.4). It knows nothing of the flow beyond the one function it calls.
 */

export interface ListenerSettings {
  host: string;
  port: number;
  lmtp: boolean;
  maxSize: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  idleTimeoutMs: number;
  sessionTimeoutMs: number;
  maxRecipients: number;
  /** Bytes up to the blank line that ends the header section (SMTP_MAX_HEADER_SIZE). */
  maxHeaderSize: number;
  intakeAddresses: readonly string[];
  tlsKeyFile?: string;
  tlsCertFile?: string;
  /** How long a message may take to be stored before the sender is told to retry. */
  handleTimeoutMs?: number;
}

/** Requests are a few KiB; past this size a message counts as large (see large-message-gate.ts). */
const LARGE_MESSAGE_BYTES = 1024 * 1024;
/** Large messages read and handled at once per process: one 10 MiB message peaks near 100 MB. */
const LARGE_MESSAGE_SLOTS = 1;
/** How long a large message waits for the slot before its sender is told to try again later (451). */
const LARGE_MESSAGE_WAIT_MS = 30_000;

export type MessageHandler = (raw: Buffer, envelope: Envelope) => Promise<Outcome>;

class SmtpReply extends Error {
  constructor(
    readonly responseCode: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Listener {
  server: SMTPServer;
  port: number;
  close(): Promise<void>;
}

export async function startListener(settings: ListenerSettings, handle: MessageHandler, log: Logger, metrics: Metrics): Promise<Listener> {
  const intake = new Set(settings.intakeAddresses.map((a) => a.toLowerCase()));
  const perIp = new Map<string, number>();
  /** Sessions counted in perIp: smtp-server also calls onClose for connections it refused before onConnect. */
  const counted = new Set<string>();
  const sessionTimers = new Map<string, NodeJS.Timeout>();
  const handleTimeoutMs = settings.handleTimeoutMs ?? 20_000;
  const largeMessages = new LargeMessageGate(LARGE_MESSAGE_SLOTS, LARGE_MESSAGE_BYTES);
  const tls = settings.tlsKeyFile && settings.tlsCertFile ? { key: readFileSync(settings.tlsKeyFile), cert: readFileSync(settings.tlsCertFile) } : null;

  const options: SMTPServerOptions = {
    lmtp: settings.lmtp,
    name: 'rebuild-desk',
    banner: 'rebuild-desk priority rebuild requests',
    size: settings.maxSize,
    authOptional: true,
    disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    hideSTARTTLS: !tls,
    ...(tls ?? {}),
    maxClients: settings.maxConnections,
    socketTimeout: settings.idleTimeoutMs,
    closeTimeout: 5_000,
    logger: false,

    onConnect(session, callback) {
      const ip = session.remoteAddress;
      const count = (perIp.get(ip) ?? 0) + 1;
      perIp.set(ip, count);
      counted.add(session.id);
      if (count > settings.maxConnectionsPerIp) {
        return callback(new SmtpReply(421, '4.7.0 Too many connections from your address, try again later'));
      }
      // A client that keeps a session open for ever (slowloris) holds a connection slot: cut it off.
      const timer = setTimeout(() => closeSession(session.id), settings.sessionTimeoutMs);
      timer.unref();
      sessionTimers.set(session.id, timer);
      callback();
    },

    onClose(session) {
      if (counted.delete(session.id)) {
        const ip = session.remoteAddress;
        const count = (perIp.get(ip) ?? 1) - 1;
        if (count <= 0) perIp.delete(ip);
        else perIp.set(ip, count);
      }
      clearTimeout(sessionTimers.get(session.id));
      sessionTimers.delete(session.id);
    },

    onMailFrom(_address, _session, callback) {
      callback();
    },

    onRcptTo(address, session, callback) {
      if (!intake.has(address.address.toLowerCase())) {
        return callback(new SmtpReply(550, '5.1.1 No such mailbox here: this server only takes priority rebuild requests'));
      }
      if (session.envelope.rcptTo.length >= settings.maxRecipients) {
        return callback(new SmtpReply(452, '4.5.3 Too many recipients'));
      }
      callback();
    },

    onData(stream, session, callback) {
      let release: (() => void) | null = null;
      const admit = async (size: number): Promise<boolean> => {
        if (release || size <= largeMessages.thresholdBytes) return true;
        release = await largeMessages.acquire(LARGE_MESSAGE_WAIT_MS);
        return release !== null;
      };
      readMessage(stream, settings.maxSize, settings.maxHeaderSize, admit)
        .then(async (raw) => {
          if (raw === 'busy') return reply(callback, new SmtpReply(451, '4.3.0 Too many large messages at once, please try again later'));
          if (raw === 'too-big') return reply(callback, new SmtpReply(552, `5.3.4 Message too big: the limit is ${settings.maxSize} bytes`));
          // 552 5.3.4 like the size limit rather than 554 5.6.0: the message is not malformed (that we
          // accept, SPEC §4.4), it is more header than this system takes, and will be on every retry.
          if (raw === 'header-too-big') return reply(callback, new SmtpReply(552, `5.3.4 Header section too big: the limit is ${settings.maxHeaderSize} bytes`));
          const outcome = await withTimeout(handle(raw, envelopeOf(session)), handleTimeoutMs);
          reply(callback, null, `2.0.0 Accepted as ${outcome.id}`);
        })
        .catch((err: unknown) => {
          log.error({ err, session: session.id }, 'message could not be stored; sender told to retry');
          reply(callback, new SmtpReply(451, '4.3.0 Could not store your message right now, please try again later'));
        })
        .finally(() => release?.());
    },
  };

  function reply(callback: (err?: Error | null, message?: string) => void, err: SmtpReply | null, message?: string): void {
    metrics.smtpReplies.inc({ code: err ? String(err.responseCode) : '250' });
    if (err) callback(err);
    else callback(null, message);
  }

  const server = new SMTPServer(options);

  /** smtp-server has no public call to end one session; its connection set is the way in. */
  function closeSession(id: string): void {
    const connections = (server as unknown as { connections: Set<{ id: string; send(code: number, text: string): void; close(): void }> }).connections;
    for (const connection of connections) {
      if (connection.id !== id) continue;
      log.info({ session: id }, 'SMTP session over its time limit, closing');
      connection.send(421, '4.4.2 Session time limit reached, closing');
      connection.close();
    }
  }
  server.on('error', (err) => log.warn({ err }, 'SMTP connection error'));

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : settings.port;
  log.info({ host: settings.host, port, lmtp: settings.lmtp, tls: Boolean(tls) }, 'listening for requests');

  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Reads the whole message, or says which limit it broke. smtp-server keeps streaming after
 * `sizeExceeded`, so the rest is drained before the 552 is sent; otherwise the client would still be
 * sending DATA when the reply arrives. Nothing past a broken limit is kept in memory.
 *
 * The header section is every byte before the first empty line. mailparser holds it whole in memory
 * and scans it line by line, and so does every header lookup after it: one 1 MB header line or 10,000
 * headers cost far more than their size, so the header gets a limit of its own, well under the
 * message's. A message with no empty line at all is all header, as RFC 5322 §2.1 reads it.
 */
async function readMessage(
  stream: Readable & { sizeExceeded?: boolean },
  maxSize: number,
  maxHeaderSize: number,
  admit: (sizeSoFar: number) => Promise<boolean>,
): Promise<Buffer | 'too-big' | 'header-too-big' | 'busy'> {
  const chunks: Buffer[] = [];
  let size = 0;
  let headerEnded = false;
  let headerTooBig = false;
  let tail = Buffer.alloc(0); // the last bytes seen, so an empty line split across chunks is found
  let admitted = true;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (!headerEnded && !headerTooBig) {
      const window = Buffer.concat([tail, chunk]);
      const end = headerEnd(window, size === 0);
      if (end >= 0) {
        headerEnded = true;
        headerTooBig = size - tail.length + end > maxHeaderSize;
      } else if (size + chunk.length > maxHeaderSize) {
        headerTooBig = true;
      }
      tail = window.subarray(Math.max(0, window.length - 3));
    }
    size += chunk.length;
    if (admitted) admitted = await admit(size);
    if (admitted && size <= maxSize && !headerTooBig) chunks.push(chunk);
  }
  if (!admitted) return 'busy';
  if (stream.sizeExceeded || size > maxSize) return 'too-big';
  if (headerTooBig) return 'header-too-big';
  return Buffer.concat(chunks, size);
}

/** Offset of the empty line (after LF: LF or CRLF; or one the message starts with) that ends the header section, or -1. */
function headerEnd(buf: Buffer, atStart: boolean): number {
  if (atStart && (buf[0] === 0x0a || (buf[0] === 0x0d && buf[1] === 0x0a))) return 0;
  for (let i = buf.indexOf(0x0a); i >= 0 && i < buf.length - 1; i = buf.indexOf(0x0a, i + 1)) {
    if (buf[i + 1] === 0x0a) return i + 1;
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 1;
  }
  return -1;
}

function envelopeOf(session: SMTPServerSession): Envelope {
  const mailFrom = session.envelope.mailFrom;
  return {
    from: mailFrom ? mailFrom.address.toLowerCase() : '',
    to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
    remoteAddress: session.remoteAddress,
    helo: session.hostNameAppearsAs ?? '',
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not stored within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
