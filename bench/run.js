'use strict';
/**
 * `npm run bench`: builds, starts its own redis-server and SMTP sinks, measures rebuild-desk beside its
 * baselines in the same run, and writes bench/RESULTS.md. Run on demand, not in CI (about 10 minutes).
 *
 *   node bench/run.js [--quick] [--only=profile,intake,backlog,ttf,worker,memory]
 */
const { execFileSync } = require('node:child_process');
const { cpSync, mkdtempSync, rmSync, readFileSync, writeFileSync, existsSync, readdirSync } = require('node:fs');
const os = require('node:os');
const { join, resolve } = require('node:path');
const { startRedis } = require('./lib/redis');
const { writeDirectory, writeBacklog } = require('./lib/data');
const { treeCpuSeconds } = require('./lib/processes');
const { summarise } = require('./lib/cpuprofile');
const { load } = require('./lib/smtp-client');
const { intakeAccount, requestMessage } = require('./lib/data');
const intake = require('./intake');
const backlog = require('./backlog');
const ttf = require('./time-to-front');
const worker = require('./worker');
const memory = require('./memory');
const { report } = require('./report');

const args = process.argv.slice(2);
const quick = args.includes('--quick');
/** Development aid: the project's intake runs without the baselines. */
const deskOnly = args.includes('--desk-only');
const only = (args.find((a) => a.startsWith('--only=')) ?? '').slice(7).split(',').filter(Boolean);
const wanted = (name) => only.length === 0 || only.includes(name);

const BACKLOG_SIZES = quick ? [0, 10_000, 100_000] : [0, 100_000, 1_000_000];

async function main() {
  const started = Date.now();
  // The run uses a copy of dist/, so a rebuild during a ten-minute run cannot mix two builds.
  const root = join(__dirname, 'tmp', `run-${process.pid}`);
  cpSync(process.env.BENCH_DIST ?? resolve(__dirname, '..', 'dist'), join(root, 'dist'), { recursive: true });
  const tmp = mkdtempSync(join(os.tmpdir(), 'rebuild-desk-bench-'));
  const log = (line) => process.stderr.write(`${line}\n`);
  const redis = await startRedis();
  const intakeAccounts = 200_000;
  const ctx = {
    root,
    tmp,
    redis,
    quick,
    deskOnly,
    cpus: os.availableParallelism(),
    intakeAccounts,
    log,
    deskEnv: {
      REDIS_URL: redis.url,
      QUEUE_PREFIX: 'bench',
      ACCOUNTS_FILE: join(tmp, 'accounts.csv'),
      OUTBOX_DIR: join(tmp, 'outbox'),
      DATA_DIR: join(tmp, 'var'),
      LOG_LEVEL: 'info',
      // 100 to 1,000 concurrent sessions from 127.0.0.1: above the defaults (500 in all, 50 per address).
      SMTP_MAX_CONNECTIONS: '5000',
      SMTP_MAX_CONNECTIONS_PER_IP: '5000',
    },
  };
  const results = { machine: machine(), started: new Date(started).toISOString(), command: commandLine(), quick };
  try {
    log(`bench: redis-server on ${redis.port}, work folder ${tmp}`);
    await writeDirectory(ctx.deskEnv.ACCOUNTS_FILE, intakeAccounts, 1000);
    const backlogFiles = {};
    for (const size of BACKLOG_SIZES.filter(Boolean)) {
      backlogFiles[size] = join(tmp, `backlog-${size}.txt`);
      await writeBacklog(backlogFiles[size], size);
    }

    if (wanted('profile')) {
      log('§ profile: intake under --cpu-prof, 20 sessions');
      results.profile = await profileIntake(ctx);
    }
    if (wanted('intake')) {
      log('§1 intake throughput');
      results.intake = await intake.run(ctx);
    }
    if (wanted('backlog') || wanted('ttf')) {
      const biggest = BACKLOG_SIZES.at(-1);
      if (wanted('backlog')) {
        log(`§3 backlog load of ${biggest}`);
        results.backlog = await backlog.measure(ctx, backlogFiles[biggest], biggest);
      }
      if (wanted('ttf')) {
        log('§2 time to front');
        results.ttf = [];
        for (const size of [...BACKLOG_SIZES].reverse()) {
          if (size !== biggest || !wanted('backlog')) {
            await redis.flush();
            if (size > 0) execFileSync(process.execPath, [join(root, 'dist/cli.js'), 'backlog', backlogFiles[size]], { env: { ...process.env, ...ctx.deskEnv }, stdio: 'ignore' });
          }
          const r = await ttf.measure(ctx, { backlog: size, requests: quick ? 100 : 250, accountBase: 0 });
          log(`  backlog ${size}: p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`);
          results.ttf.push(r);
        }
      }
    }
    if (wanted('worker')) {
      log('§4 worker overhead');
      results.worker = await worker.run(ctx);
    }
    if (wanted('memory')) {
      log('§5 memory');
      results.memory = [await memory.run(ctx, '1'), await memory.run(ctx, 'auto')];
    }
  } finally {
    await redis.stop();
    rmSync(tmp, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  }
  results.minutes = (Date.now() - started) / 60000;
  const findings = join(__dirname, 'findings.md');
  const md = report(results, existsSync(findings) ? readFileSync(findings, 'utf8') : '');
  const out = only.length || quick ? join(__dirname, 'RESULTS.partial.md') : join(__dirname, 'RESULTS.md');
  writeFileSync(out, md);
  writeFileSync(out.replace(/\.md$/, '.json'), JSON.stringify(results, null, 2));
  log(`bench: wrote ${out} in ${results.minutes.toFixed(1)} min`);
}

/** The intake in one process under --cpu-prof, loaded by 20 sessions; the profile summarised. */
async function profileIntake(ctx) {
  const dir = join(ctx.tmp, 'profile');
  await ctx.redis.flush();
  const desk = await intake.startIntake(ctx, { INTAKE_PROCESSES: '1' }, ['--cpu-prof', '--cpu-prof-dir', dir]);
  const next = (i) => requestMessage(intakeAccount(i % ctx.intakeAccounts), i);
  const cpu0 = { intake: treeCpuSeconds(desk.proc.pid), redis: treeCpuSeconds(ctx.redis.pid), client: process.cpuUsage() };
  const t0 = performance.now();
  const r = await load({ port: desk.port, sessions: 20, perConnection: false, next, warmupMs: 0, durationMs: quick ? 5000 : 9000 });
  const wall = (performance.now() - t0) / 1000;
  const clientCpu = process.cpuUsage(cpu0.client);
  const cpu = {
    wall,
    messages: r.messages,
    intake: treeCpuSeconds(desk.proc.pid) - cpu0.intake,
    redis: treeCpuSeconds(ctx.redis.pid) - cpu0.redis,
    client: (clientCpu.user + clientCpu.system) / 1e6,
  };
  await desk.proc.stop();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return { perSecond: r.perSecond, error: 'no .cpuprofile written' };
  const summary = summarise(join(dir, file), 25);
  ctx.log(`  CPU per message: intake ${((cpu.intake / cpu.messages) * 1e3).toFixed(2)} ms, redis ${((cpu.redis / cpu.messages) * 1e3).toFixed(2)} ms, client ${((cpu.client / cpu.messages) * 1e3).toFixed(2)} ms`);
  ctx.log(`  ${r.perSecond.toFixed(0)} msg/s under the profiler; top: ${summary.places.slice(0, 5).map((p) => `${p.name} ${(p.share * 100).toFixed(0)}%`).join(', ')}`);
  return { perSecond: r.perSecond, cpu, ...summary };
}

function machine() {
  const sh = (cmd) => {
    try {
      return execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  };
  return {
    nproc: sh('nproc'),
    cpu: sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").trim() || os.cpus()[0]?.model,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    redis: sh('redis-server --version'),
    postfix: sh('postconf -h mail_version 2>/dev/null || echo "not installed"'),
    loadavg: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

function commandLine() {
  return process.env.npm_lifecycle_event === 'bench' ? `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}` : `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim();
}

// Exit when done: a BullMQ or ioredis handle left open by a failed section must not keep the run alive.
main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${err.stack ?? err}\n`);
    process.exit(1);
  },
);
