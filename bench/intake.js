'use strict';
/**
 * §1 Intake throughput: messages/s answered 250 through the whole path (SMTP, parse, classify, extract,
 * verify, store, rebuild job queued, confirmation notice queued), beside a bare smtp-server sink and
 * Postfix's smtp-sink, with the same client, in the same run.
 */
const { execFileSync, spawn } = require('node:child_process');
const { join } = require('node:path');
const { load } = require('./lib/smtp-client');
const { freePort } = require('./lib/redis');
const { start, startNode, treeCpuSeconds, waitForPort } = require('./lib/processes');
const { intakeAccount, requestMessage, INTAKE } = require('./lib/data');

const SHAPES = [
  { name: 'many per connection', key: 'persistent', sessions: 20, perConnection: false },
  { name: 'one per connection', key: 'single', sessions: 100, perConnection: true },
  { name: 'one per connection, flood', key: 'flood', sessions: 400, perConnection: true },
];

function has(program) {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The project's intake role, as operators run it. */
async function startIntake(ctx, env = {}, execArgv = []) {
  const port = await freePort();
  const proc = startNode(join(ctx.root, 'dist/cli.js'), ['intake'], {
    env: { ...ctx.deskEnv, SMTP_PORT: String(port), ...env },
    logFile: join(ctx.tmp, 'intake.log'),
    execArgv,
  });
  await waitForPort(port);
  // Every cluster worker listens on the same port; give them all time to open their services.
  await new Promise((r) => setTimeout(r, 1500));
  return { port, proc };
}

async function startBareSink(ctx, processes) {
  const port = await freePort();
  const proc = startNode(join(__dirname, 'lib/bare-sink.js'), [String(port), String(processes)], {});
  await waitForPort(port);
  await new Promise((r) => setTimeout(r, 300));
  return { port, proc };
}

async function startPostfixSink() {
  const port = await freePort();
  const proc = start('smtp-sink', ['-u', 'nobody', `127.0.0.1:${port}`, '1024']);
  await waitForPort(port);
  return { port, proc };
}

/** smtp-source: count-based, so the rate is messages over the wall time. */
function smtpSource(port, shape, count) {
  const args = ['-s', String(shape.sessions), '-m', String(count), '-l', '600', '-f', 'u1@example.com', '-t', INTAKE, '-S', 'Priority rebuild'];
  if (!shape.perConnection) args.unshift('-d');
  args.push(`127.0.0.1:${port}`);
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn('smtp-source', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      resolve({ messages: count, seconds, perSecond: code === 0 ? count / seconds : NaN, errors: code === 0 ? 0 : 1, firstError: code === 0 ? null : err.slice(0, 200) });
    });
  });
}

/** load() plus the CPU the server and Redis spent per message answered. */
async function measured(ctx, server, options) {
  const cpu0 = { server: treeCpuSeconds(server.pid), redis: treeCpuSeconds(ctx.redis.pid) };
  const r = await load(options);
  const n = Math.max(1, r.all);
  return { ...r, serverCpuMs: ((treeCpuSeconds(server.pid) - cpu0.server) * 1000) / n, redisCpuMs: ((treeCpuSeconds(ctx.redis.pid) - cpu0.redis) * 1000) / n };
}

async function run(ctx) {
  const postfix = has('smtp-source') && has('smtp-sink');
  const results = { postfix, rows: [], checks: [] };
  const timing = ctx.quick ? { warmupMs: 1000, durationMs: 4000 } : { warmupMs: 2000, durationMs: 8000 };
  const sinkMessage = requestMessage('u1@example.com', 0);
  const sinkNext = () => sinkMessage;
  const shapes = SHAPES;

  const record = (target, client, shape, r) => {
    results.rows.push({ target, client, shape: shape.key, sessions: shape.sessions, ...r });
    ctx.log(`  ${target} / ${client} / ${shape.name} x${shape.sessions}: ${r.perSecond.toFixed(0)} msg/s${r.serverCpuMs ? `, CPU ms/msg server ${r.serverCpuMs.toFixed(3)} redis ${r.redisCpuMs.toFixed(3)}` : ''}${r.errors ? ` (${r.errors} errors: ${r.firstError})` : ''}`);
  };

  // Baselines first: Postfix's sink, then the bare smtp-server sink in one and in two processes.
  if (postfix && !ctx.deskOnly) {
    const sink = await startPostfixSink();
    for (const shape of shapes.slice(0, 2)) {
      record('postfix smtp-sink', 'node', shape, await measured(ctx, sink.proc, { port: sink.port, sessions: shape.sessions, perConnection: shape.perConnection, next: sinkNext, ...timing }));
      record('postfix smtp-sink', 'smtp-source', shape, await smtpSource(sink.port, shape, shape.perConnection ? 20000 : 100000));
    }
    await sink.proc.stop();
  }
  for (const processes of ctx.deskOnly ? [] : [1, ctx.cpus]) {
    const sink = await startBareSink(ctx, processes);
    const target = `bare smtp-server x${processes}`;
    for (const shape of processes === 1 ? shapes : shapes.slice(0, 2)) {
      record(target, 'node', shape, await measured(ctx, sink.proc, { port: sink.port, sessions: shape.sessions, perConnection: shape.perConnection, next: sinkNext, ...timing }));
      if (postfix && shape.key !== 'flood') record(target, 'smtp-source', shape, await smtpSource(sink.port, shape, shape.perConnection ? 4000 : 50000));
    }
    await sink.proc.stop();
  }

  // The project: unique requests for distinct accounts, so every message takes the whole path.
  // BENCH_DESK_PROCESSES and BENCH_SHAPES narrow a development run (e.g. "1" and "persistent").
  const deskProcesses = process.env.BENCH_DESK_PROCESSES?.split(',') ?? ['1', 'auto'];
  for (const processes of deskProcesses) {
    const target = `rebuild-desk intake, INTAKE_PROCESSES=${processes}`;
    for (const shape of (processes === 'auto' ? shapes : shapes.slice(0, 2)).filter((x) => !process.env.BENCH_SHAPES || process.env.BENCH_SHAPES.split(',').includes(x.key))) {
      await ctx.redis.flush();
      const desk = await startIntake(ctx, { INTAKE_PROCESSES: processes });
      const next = (i) => requestMessage(intakeAccount(i % ctx.intakeAccounts), i);
      const r = await measured(ctx, desk.proc, { port: desk.port, sessions: shape.sessions, perConnection: shape.perConnection, next, ...timing });
      record(target, 'node', shape, r);
      await desk.proc.stop();
      results.checks.push({ target, shape: shape.key, ...(await wholePathCheck(ctx)) });
    }
  }
  return results;
}

/** What Redis holds after a run: every 250 must be a stored request, a queued job and a queued notice. */
async function wholePathCheck(ctx) {
  const p = ctx.deskEnv.QUEUE_PREFIX;
  const r = ctx.redis.client;
  const [requests, prioritized, notices] = await Promise.all([
    r.zcard(`${p}:requests`),
    r.zcard(`${p}:rebuild:prioritized`),
    r.zcard(`${p}:notices:prioritized`).then(async (n) => n + (await r.llen(`${p}:notices:wait`))),
  ]);
  return { requests, rebuildJobs: prioritized, notices };
}

module.exports = { run, startIntake, SHAPES };
