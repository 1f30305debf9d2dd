'use strict';
/**
 * §5 Memory: peak RSS of the intake (all its processes together) with 1,000 idle SMTP connections, and
 * while messages of SMTP_MAX_SIZE arrive ten at a time.
 */
const { Session } = require('./lib/smtp-client');
const { startIntake } = require('./intake');
const { sampleRss } = require('./lib/processes');
const { bigMessageFactory, intakeAccount } = require('./lib/data');

const MiB = 1024 * 1024;

async function idleConnections(ctx, processes, count) {
  await ctx.redis.flush();
  const desk = await startIntake(ctx, { INTAKE_PROCESSES: processes });
  await new Promise((r) => setTimeout(r, 1000));
  const idleRss = desk.proc.rss();
  const sampler = sampleRss(desk.proc.pid, 100);
  const sessions = [];
  for (let i = 0; i < count; i += 100) {
    sessions.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(100, count - i) }, async () => {
          const s = await Session.connect(desk.port);
          await s.hello();
          return s;
        }),
      )),
    );
  }
  await new Promise((r) => setTimeout(r, 5000));
  const open = sessions.filter((s) => !s.closed).length;
  const { peak } = sampler.stop();
  for (const s of sessions) s.quit();
  await desk.proc.stop();
  return { processes, count, open, idleRss, peak, perConnection: (peak - idleRss) / count };
}

async function bigMessages(ctx, processes, seconds) {
  await ctx.redis.flush();
  const redis = ctx.redis.client;
  await redis.config('SET', 'appendonly', 'no'); // ten 10 MiB messages a second would fill the disk
  const desk = await startIntake(ctx, { INTAKE_PROCESSES: processes });
  const idleRss = desk.proc.rss();
  const maxSize = 10 * MiB;
  const make = bigMessageFactory(maxSize);
  // The stored raw messages would fill Redis's memory: drop them as they come (the intake does not read them).
  const prefix = ctx.deskEnv.QUEUE_PREFIX;
  const cleaner = setInterval(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:req:*:raw`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  }, 500);
  const sampler = sampleRss(desk.proc.pid, 100);
  const end = Date.now() + seconds * 1000;
  let sent = 0;
  let accepted = 0;
  let errors = 0;
  let size = 0;
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      let session = await Session.connect(desk.port);
      await session.hello();
      while (Date.now() < end) {
        const m = make(intakeAccount(sent % ctx.intakeAccounts), sent);
        size = m.size;
        sent++;
        try {
          const r = await session.send(m);
          if (r.code === 250) accepted++;
        } catch {
          errors++;
          session.quit();
          session = await Session.connect(desk.port);
          await session.hello();
        }
      }
      session.quit();
    }),
  );
  const { peak, samples } = sampler.stop();
  clearInterval(cleaner);
  await desk.proc.stop();
  await redis.config('SET', 'appendonly', 'yes');
  const third = (k) => Math.max(0, ...samples.filter((s) => s.t >= (k * seconds * 1000) / 3 && s.t < ((k + 1) * seconds * 1000) / 3).map((s) => s.rss));
  return { processes, seconds, messageBytes: size, maxSize, sent, accepted, errors, idleRss, peak, peakByThird: [third(0), third(1), third(2)] };
}

async function run(ctx, processes) {
  const idle = await idleConnections(ctx, processes, 1000);
  ctx.log(`  1000 idle connections, INTAKE_PROCESSES=${processes}: peak ${(idle.peak / MiB).toFixed(0)} MiB (idle ${(idle.idleRss / MiB).toFixed(0)} MiB, ${idle.open} open)`);
  const big = await bigMessages(ctx, processes, ctx.quick ? 10 : 30);
  ctx.log(`  10 MiB messages x10 for ${big.seconds} s: peak ${(big.peak / MiB).toFixed(0)} MiB, ${big.accepted} accepted, thirds ${big.peakByThird.map((b) => (b / MiB).toFixed(0)).join('/')} MiB`);
  return { idle, big };
}

module.exports = { run };
