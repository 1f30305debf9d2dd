'use strict';
/**
 * §2 Time to front: from the 250 of a priority request to its rebuild command starting, with 0, 100k
 * and 1M accounts in the backlog.
 *
 * The rebuild command is `date +%s%N`: it prints the wall clock in nanoseconds when it runs, the worker
 * keeps that output on the job (as with any rebuild command), and the bench reads it back. The client
 * takes the 250's time on the same wall clock (calibrated on a Date.now() tick just before each send,
 * then performance.now() for sub-millisecond precision). So the figure includes everything a real
 * rebuild waits for: storing and queueing, BullMQ handing the job to a worker, and spawning the program.
 */
const { join } = require('node:path');
const { Session } = require('./lib/smtp-client');
const { freePort } = require('./lib/redis');
const { startNode, waitForPort } = require('./lib/processes');
const { priorityAccount, requestMessage } = require('./lib/data');

/** performance.now() → wall-clock ms, anchored on the instant Date.now() ticks. */
function calibrate() {
  const d0 = Date.now();
  let d;
  while ((d = Date.now()) === d0);
  const p = performance.now();
  return (perf) => d + (perf - p);
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(ctx, { backlog, requests, accountBase }) {
  const p = ctx.deskEnv.QUEUE_PREFIX;
  const redis = ctx.redis.client;
  const env = { ...ctx.deskEnv, REBUILD_COMMAND: JSON.stringify(['date', '+%s%N']), WORKER_CONCURRENCY: '4' };
  const worker = startNode(join(ctx.root, 'dist/cli.js'), ['worker'], { env, logFile: join(ctx.tmp, 'ttf-worker.log') });
  const port = await freePort();
  const intake = startNode(join(ctx.root, 'dist/cli.js'), ['intake'], { env: { ...env, SMTP_PORT: String(port) }, logFile: join(ctx.tmp, 'ttf-intake.log') });
  await waitForPort(port);
  await new Promise((r) => setTimeout(r, 2000));

  const session = await Session.connect(port);
  await session.hello();
  const toCommand = [];
  let missing = 0;
  for (let i = 0; i < requests; i++) {
    const account = priorityAccount(accountBase + i);
    const message = requestMessage(account, i);
    const wall = calibrate();
    const reply = await session.send(message);
    const t250 = wall(performance.now());
    if (!/Accepted as R-/.test(reply.text)) throw new Error(`unexpected reply ${reply.text}`);
    const jobKey = `${p}:rebuild:a-${account}`;
    const deadline = Date.now() + 5000;
    let found = false;
    while (Date.now() < deadline) {
      const logs = await redis.lrange(`${jobKey}:logs`, 0, -1);
      const stamp = logs.length ? /(\d{19})/.exec(logs.join('\n')) : null;
      if (stamp) {
        toCommand.push(Number(BigInt(stamp[1]) / 1000n) / 1000 - t250);
        found = true;
        break;
      }
      await new Promise((r) => setImmediate(r));
    }
    if (!found) missing++;
    await new Promise((r) => setTimeout(r, 15));
  }
  session.quit();
  const backlogLeft = await redis.zcard(`${p}:backlog`);
  await Promise.all([intake.stop(), worker.stop()]);
  toCommand.sort((a, b) => a - b);
  return {
    backlog,
    backlogLeft,
    requests,
    measured: toCommand.length,
    missing,
    p50: pct(toCommand, 50),
    p99: pct(toCommand, 99),
    max: toCommand.at(-1),
  };
}

module.exports = { measure };
