'use strict';
/**
 * A small SMTP load client on raw sockets, cheap enough to share two cores with the server it loads.
 * MAIL, RCPT and DATA go out together (PIPELINING, RFC 2920); each message is one write.
 *
 * Two shapes: `perConnection: false` keeps each session open and sends message after message over it;
 * `perConnection: true` opens a connection, sends one message, says QUIT and opens the next.
 */
const net = require('node:net');

class Session {
  constructor(socket) {
    this.socket = socket;
    this.buffer = '';
    this.waiting = [];
    this.replies = [];
    this.closed = false;
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (data) => this.onData(data));
    const fail = (err) => {
      this.closed = true;
      const error = err || new Error('connection closed');
      for (const w of this.waiting.splice(0)) w.reject(error);
    };
    socket.on('error', fail);
    socket.on('close', () => fail());
  }

  onData(data) {
    this.buffer += data;
    let nl;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      if (line[3] === '-') continue; // a continued multi-line reply
      const reply = { code: Number(line.slice(0, 3)), text: line };
      const w = this.waiting.shift();
      if (w) w.resolve(reply);
      else this.replies.push(reply);
    }
  }

  reply() {
    if (this.replies.length) return Promise.resolve(this.replies.shift());
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  async expect(code) {
    const r = await this.reply();
    if (r.code !== code) throw new Error(`expected ${code}, got ${r.text}`);
    return r;
  }

  static connect(port, host = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host);
      socket.once('connect', () => resolve(new Session(socket)));
      socket.once('error', reject);
    });
  }

  async hello() {
    await this.expect(220);
    this.socket.write('EHLO bench.example\r\n');
    await this.expect(250);
  }

  /** Sends one message: `message` is { from, to, data: Buffer ending in CRLF } or { ..., parts: Buffer[] }. */
  async send(message) {
    this.socket.write(`MAIL FROM:<${message.from}>\r\nRCPT TO:<${message.to}>\r\nDATA\r\n`);
    await this.expect(250);
    await this.expect(250);
    await this.expect(354);
    if (message.parts) for (const p of message.parts) this.socket.write(p);
    else this.socket.write(message.data);
    this.socket.write('.\r\n');
    return this.expect(250);
  }

  quit() {
    if (!this.closed) this.socket.end('QUIT\r\n');
    this.socket.destroy();
  }
}

/**
 * Runs `sessions` concurrent senders for `warmupMs + durationMs`, counting 250 replies inside the
 * measured window. `next(i)` gives the i-th message. Returns { messages, seconds, perSecond, errors, latency }.
 */
async function load({ port, sessions, perConnection, warmupMs = 2000, durationMs = 10000, next }) {
  let counter = 0;
  let counted = 0;
  let errors = 0;
  let firstError = null;
  const latencies = [];
  const start = Date.now();
  const windowStart = start + warmupMs;
  const end = windowStart + durationMs;
  let measuredFrom = 0;
  let measuredTo = 0;
  let all = 0;
  const noteDone = (t0) => {
    all++;
    const now = Date.now();
    if (now >= windowStart && now < end) {
      if (!measuredFrom) measuredFrom = now;
      counted++;
      measuredTo = now;
      if (latencies.length < 200000) latencies.push(performance.now() - t0);
    }
  };
  const onError = (err) => {
    errors++;
    firstError ??= err.message;
  };

  async function persistent() {
    let session = null;
    while (Date.now() < end) {
      try {
        if (!session || session.closed) {
          session = await Session.connect(port);
          await session.hello();
        }
        const t0 = performance.now();
        await session.send(next(counter++));
        noteDone(t0);
      } catch (err) {
        onError(err);
        session?.quit();
        session = null;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    session?.quit();
  }

  async function oneEach() {
    while (Date.now() < end) {
      let session = null;
      try {
        const t0 = performance.now();
        session = await Session.connect(port);
        await session.hello();
        await session.send(next(counter++));
        noteDone(t0);
      } catch (err) {
        onError(err);
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        session?.quit();
      }
    }
  }

  await Promise.all(Array.from({ length: sessions }, () => (perConnection ? oneEach() : persistent())));
  const seconds = durationMs / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] : NaN);
  return { messages: counted, all, seconds, perSecond: counted / seconds, errors, firstError, latency: { p50: pct(50), p99: pct(99) } };
}

module.exports = { Session, load };
