'use strict';
/**
 * §3 Backlog load: `node dist/cli.js backlog FILE` of a million accounts, timed from the outside, with
 * Redis's used_memory before and after; beside redis-benchmark's pipelined ZADD of as many members.
 * Then `status` of a few accounts, whose positions are known from the file's order.
 */
const { execFile } = require('node:child_process');
const { join } = require('node:path');
const { promisify } = require('node:util');
const { backlogAccount } = require('./lib/data');

const run = promisify(execFile);

async function loadWithCli(ctx, file, count) {
  const before = await ctx.redis.usedMemory();
  const t0 = performance.now();
  const { stdout } = await run(process.execPath, [join(ctx.root, 'dist/cli.js'), 'backlog', file], { env: { ...process.env, ...ctx.deskEnv }, maxBuffer: 1 << 20 });
  const seconds = (performance.now() - t0) / 1000;
  const after = await ctx.redis.usedMemory();
  return { count, seconds, perSecond: count / seconds, bytes: after - before, summary: stdout.trim() };
}

async function status(ctx, account) {
  const { stdout } = await run(process.execPath, [join(ctx.root, 'dist/cli.js'), 'status', account], { env: { ...process.env, ...ctx.deskEnv } });
  return JSON.parse(stdout);
}

async function redisBenchmarkZadd(ctx, count) {
  const key = 'bench:zadd';
  const before = await ctx.redis.usedMemory();
  const t0 = performance.now();
  // __rand_int__ is a 12-digit number: members as long as the backlog's accounts (~26 characters);
  // -r above 1e8 makes redis-benchmark repeat one member.
  const { stdout } = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(ctx.redis.port), '-n', String(count), '-P', '100', '-r', '100000000', '-q', 'zadd', key, '__rand_int__', 'm__rand_int__@example.net']);
  const seconds = (performance.now() - t0) / 1000;
  const after = await ctx.redis.usedMemory();
  const members = await ctx.redis.client.zcard(key);
  await ctx.redis.client.del(key);
  const reported = Number(/([\d.]+) requests per second/.exec(stdout)?.[1] ?? NaN);
  return { count, members, seconds, perSecond: reported, bytes: after - before, bytesPerMember: (after - before) / members };
}

async function measure(ctx, file, count) {
  await ctx.redis.flush();
  const zadd = await redisBenchmarkZadd(ctx, count);
  ctx.log(`  redis-benchmark ZADD -P 100: ${zadd.perSecond.toFixed(0)}/s, ${(zadd.bytes / 1e6).toFixed(1)} MB for ${zadd.members} members`);
  await ctx.redis.flush();
  const cli = await loadWithCli(ctx, file, count);
  ctx.log(`  backlog: ${cli.perSecond.toFixed(0)} accounts/s, ${(cli.bytes / 1e6).toFixed(1)} MB (${cli.summary})`);
  const again = await loadWithCli(ctx, file, count);
  ctx.log(`  backlog again (all skipped): ${again.perSecond.toFixed(0)} accounts/s (${again.summary})`);
  const checks = [];
  for (const [i, expected] of [[0, 1], [1, 2], [499_999, 500_000], [count - 1, count]]) {
    const s = await status(ctx, backlogAccount(i));
    checks.push({ account: s.account, state: s.state, position: s.position, expected, ok: s.state === 'queued' && s.position === expected });
  }
  const none = await status(ctx, 'nobody.here@example.net');
  checks.push({ account: none.account, state: none.state, position: none.position, expected: null, ok: none.state === 'none' && none.position === null });
  return { cli, again, zadd, checks };
}

module.exports = { measure };
