import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { freePort } from './redis-server';

/**
 * A real SMTP server standing in for the outbound relay: it keeps every message it accepts, can refuse
 * RCPT or DATA with a chosen code for a while, and can go down and come back on the same port.
 */

export interface CapturedMessage {
  /** The envelope sender; '' for the null sender `MAIL FROM:<>`. */
  mailFrom: string;
  rcptTo: string[];
  raw: Buffer;
  parsed: ParsedMail;
}

export type SinkStage = 'rcpt' | 'data';

export interface SmtpSink {
  port: number;
  /** smtp://127.0.0.1:<port> */
  url: string;
  messages: CapturedMessage[];
  /** How many RCPT or DATA commands were refused on purpose so far. */
  refusals: number;
  /** Answer `code` to every RCPT or DATA until `accept()`, or for the next `times` only. */
  refuse(stage: SinkStage, code: number, times?: number): void;
  accept(): void;
  /** Stops listening and drops open connections (the relay is down). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Resolves with the messages once there are at least `n`, or rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs?: number): Promise<CapturedMessage[]>;
  close(): Promise<void>;
}

/** Open connections are dropped this soon on stop(), as when a relay goes away. */
const CLOSE_TIMEOUT_MS = 50;

export async function startSmtpSink(): Promise<SmtpSink> {
  const port = await freePort();
  let server: SMTPServer | null = null;
  let refusal: { stage: SinkStage; code: number; remaining: number } | null = null;

  const refused = (stage: SinkStage): Error | null => {
    if (!refusal || refusal.stage !== stage || refusal.remaining <= 0) return null;
    refusal.remaining--;
    sink.refusals++;
    const err = new Error(refusal.code >= 500 ? 'Refused by the test relay' : 'Try again later') as Error & { responseCode: number };
    err.responseCode = refusal.code;
    return err;
  };

  const options: SMTPServerOptions = {
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    closeTimeout: CLOSE_TIMEOUT_MS,
    onRcptTo(_address, _session, callback) {
      callback(refused('rcpt') ?? undefined);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', callback);
      stream.on('end', () => {
        const err = refused('data');
        if (err) return callback(err);
        const raw = Buffer.concat(chunks);
        const envelope = session.envelope;
        simpleParser(raw)
          .then((parsed) => {
            sink.messages.push({
              mailFrom: envelope.mailFrom ? envelope.mailFrom.address : '',
              rcptTo: envelope.rcptTo.map((r) => r.address),
              raw,
              parsed,
            });
            callback();
          })
          .catch(callback);
      });
    },
  };

  const start = async () => {
    const next = new SMTPServer(options);
    next.on('error', () => undefined); // a client hanging up mid-session is not a test failure
    await new Promise<void>((resolve, reject) => {
      next.server.once('error', reject);
      next.listen(port, '127.0.0.1', () => resolve());
    });
    server = next;
  };

  const stop = async () => {
    const running = server;
    server = null;
    if (running) await new Promise<void>((resolve) => running.close(() => resolve()));
  };

  const sink: SmtpSink = {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages: [],
    refusals: 0,
    refuse(stage, code, times = Number.POSITIVE_INFINITY) {
      refusal = { stage, code, remaining: times };
    },
    accept() {
      refusal = null;
    },
    stop,
    start,
    async waitFor(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (sink.messages.length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} messages at the sink within ${timeoutMs} ms, got ${sink.messages.length}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return sink.messages;
    },
    close: stop,
  };

  await start();
  return sink;
}
