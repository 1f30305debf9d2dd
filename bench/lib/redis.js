'use strict';
/**
 * A throwaway redis-server for the benchmark: a free port, data in a temp folder, configured as in
 * production (appendonly yes, appendfsync everysec, noeviction), like test/helpers/redis-server.ts.
 */
const { spawn } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { Redis } = require('ioredis');

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rebuild-desk-bench-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory-policy', 'noeviction'],
    { stdio: 'ignore' },
  );
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined); // refused until the server is up
  for (let i = 0; ; i++) {
    try {
      await client.connect();
      await client.ping();
      break;
    } catch (err) {
      if (i > 100) throw new Error(`redis-server did not start on port ${port}: ${err.message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const url = `redis://127.0.0.1:${port}`;
  return {
    url,
    port,
    dir,
    pid: child.pid,
    client,
    async flush() {
      await client.flushall();
      // The AOF rewrite keeps the file (and the disk) small between sections.
      await client.bgrewriteaof().catch(() => undefined);
      await waitNoRewrite(client);
    },
    async usedMemory() {
      const info = await client.info('memory');
      return Number(/used_memory:(\d+)/.exec(info)[1]);
    },
    async stop() {
      client.disconnect();
      await new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGKILL');
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitNoRewrite(client) {
  for (let i = 0; i < 600; i++) {
    const info = await client.info('persistence');
    if (/aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

module.exports = { startRedis, freePort };
