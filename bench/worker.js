'use strict';
/**
 * §4 Worker overhead: empty rebuilds per second through the project's rebuild worker (simulated rebuild,
 * SIMULATED_REBUILD_MS=0, with its state, rate, completion-notice and backlog-feeding steps) beside a
 * bare BullMQ worker whose processor returns at once, on the same jobs, at concurrency 1, 10 and 50.
 * Then what spawning a no-op program (`true`) as REBUILD_COMMAND costs per job.
 */
const { join } = require('node:path');
const { Queue, Worker } = require('bullmq');
const { Redis } = require('ioredis');
const pino = require('pino');

function dist(ctx, path) {
  return require(join(ctx.root, 'dist', path));
}

async function fill(ctx, count) {
  const { REBUILD_QUEUE, PRIORITY, rebuildJobId } = dist(ctx, 'queue/rebuild-queue');
  const connection = new Redis(ctx.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(REBUILD_QUEUE, { connection, prefix: ctx.deskEnv.QUEUE_PREFIX });
  for (let i = 0; i < count; i += 1000) {
    const jobs = [];
    for (let j = i; j < Math.min(count, i + 1000); j++) {
      const account = `w${j}@example.com`;
      jobs.push({
        name: 'rebuild',
        data: { account, source: 'backlog' },
        opts: { jobId: rebuildJobId(account), priority: PRIORITY.backlog, attempts: 5, backoff: { type: 'exponential', delay: 30000 }, removeOnComplete: { count: 1000 }, removeOnFail: false },
      });
    }
    await queue.addBulk(jobs);
  }
  await queue.close();
  connection.disconnect();
}

function waitCompleted(worker, count) {
  return new Promise((resolve) => {
    let done = 0;
    worker.on('completed', () => {
      if (++done === count) resolve();
    });
  });
}

async function bare(ctx, concurrency, count) {
  await ctx.redis.flush();
  await fill(ctx, count);
  const { REBUILD_QUEUE } = dist(ctx, 'queue/rebuild-queue');
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const worker = new Worker(REBUILD_QUEUE, async () => undefined, {
    connection: new Redis(ctx.redis.url, { maxRetriesPerRequest: null }),
    prefix: ctx.deskEnv.QUEUE_PREFIX,
    concurrency,
    lockDuration: 60000,
    stalledInterval: 30000,
    maxStalledCount: 3,
  });
  await waitCompleted(worker, count);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await worker.close();
  return { concurrency, count, seconds, perSecond: count / seconds, cpuMsPerJob: (cpu.user + cpu.system) / 1000 / count };
}

async function project(ctx, concurrency, count, rebuildCommand) {
  await ctx.redis.flush();
  await fill(ctx, count);
  const { startRebuildWorker } = dist(ctx, 'worker/rebuild-worker');
  const { RebuildQueue } = dist(ctx, 'queue/rebuild-queue');
  const { RequestStore } = dist(ctx, 'requests/request-store');
  const { NoticeQueue } = dist(ctx, 'queue/notice-queue');
  const { producerConnection, waitReady } = dist(ctx, 'queue/connection');
  const { notifyCompleted, notifyFailed } = dist(ctx, 'notify/completion');
  const { Metrics } = dist(ctx, 'metrics');
  const { createLogger } = dist(ctx, 'log');
  const prefix = ctx.deskEnv.QUEUE_PREFIX;
  const redis = producerConnection(ctx.redis.url);
  await waitReady(redis);
  const rebuilds = new RebuildQueue(redis, prefix);
  const requests = new RequestStore(redis, prefix);
  const notices = new NoticeQueue(redis, prefix);
  // As in production: log level info, here into /dev/null.
  const log = createLogger('info', pino.destination({ dest: '/dev/null', sync: true }));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const running = startRebuildWorker({
    redisUrl: ctx.redis.url,
    prefix,
    concurrency,
    steps: { rebuild: rebuildCommand, timeoutMs: 3600000, simulatedMs: 0 },
    rebuilds,
    onDone: (account) => notifyCompleted(account, { requests, notices }).then(() => undefined),
    onFailed: (account, detail) => notifyFailed(account, { requests, notices }, detail).then(() => undefined),
    metrics: new Metrics(),
    log,
  });
  await waitCompleted(running.worker, count);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await running.close();
  await Promise.all([rebuilds.close(), notices.close()]);
  redis.disconnect();
  return { concurrency, count, seconds, perSecond: count / seconds, cpuMsPerJob: (cpu.user + cpu.system) / 1000 / count };
}

async function run(ctx) {
  const rows = [];
  for (const concurrency of [1, 10, 50]) {
    const count = ctx.quick ? 2000 : concurrency === 1 ? 5000 : 20000;
    const b = await bare(ctx, concurrency, count);
    const p = await project(ctx, concurrency, count);
    rows.push({ concurrency, bare: b, project: p, ratio: p.perSecond / b.perSecond });
    ctx.log(`  concurrency ${concurrency}: bare ${b.perSecond.toFixed(0)}/s, project ${p.perSecond.toFixed(0)}/s (${(p.perSecond / b.perSecond).toFixed(2)})`);
  }
  const spawnCount = ctx.quick ? 500 : 2000;
  const sim = await project(ctx, 10, spawnCount);
  const spawned = await project(ctx, 10, spawnCount, ['true']);
  const spawn = {
    concurrency: 10,
    count: spawnCount,
    simulated: sim,
    spawned,
    extraWallMsPerJob: 1000 / spawned.perSecond - 1000 / sim.perSecond,
    extraCpuMsPerJob: spawned.cpuMsPerJob - sim.cpuMsPerJob,
  };
  ctx.log(`  REBUILD_COMMAND ["true"] at concurrency 10: ${spawned.perSecond.toFixed(0)}/s (+${spawn.extraWallMsPerJob.toFixed(2)} ms wall, +${spawn.extraCpuMsPerJob.toFixed(2)} ms CPU per job)`);
  return { rows, spawn };
}

module.exports = { run };
