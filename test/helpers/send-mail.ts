import { createTransport } from 'nodemailer';

export interface SmtpResult {
  /** The server's final reply to DATA, e.g. "250 2.0.0 Accepted as R-7KQ2M9". */
  response: string;
  /** The request id carried in a 250 reply, if any. */
  requestId: string | null;
}

/** Sends a raw message with a real SMTP client; rejects with the SMTP error (err.responseCode) on 4xx/5xx. */
export async function sendRaw(
  port: number,
  raw: Buffer | string,
  envelope: { from: string; to: string[] },
  options: { lmtp?: boolean; timeoutMs?: number } = {},
): Promise<SmtpResult> {
  const transport = createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    lmtp: options.lmtp,
    connectionTimeout: options.timeoutMs ?? 10_000,
    greetingTimeout: options.timeoutMs ?? 10_000,
    socketTimeout: options.timeoutMs ?? 10_000,
  } as Parameters<typeof createTransport>[0]);
  try {
    const info = await transport.sendMail({ envelope, raw });
    const response = String(info.response);
    return { response, requestId: /\bR-[0-9A-Z]{6}\b/.exec(response)?.[0] ?? null };
  } finally {
    transport.close();
  }
}

/** A minimal message, for tests that do not need a fixture. */
export function message(fields: { from: string; to?: string; subject: string; body: string; messageId?: string; headers?: Record<string, string> }): string {
  const lines = [
    `From: ${fields.from}`,
    `To: ${fields.to ?? 'webmaster@localhost'}`,
    `Subject: ${fields.subject}`,
    `Message-ID: <${fields.messageId ?? `${Math.random().toString(36).slice(2)}@test.example`}>`,
    `Date: ${new Date().toUTCString()}`,
    ...Object.entries(fields.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    fields.body,
    '',
  ];
  return lines.join('\r\n');
}
