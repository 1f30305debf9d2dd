import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from './log';

/**
 * Out of the box, `serve` needs a Redis. When REDIS_URL is not set and nothing answers on
 * 127.0.0.1:6379, it starts a private redis-server (append-only file on, no eviction, data under
 * DATA_DIR/redis) as a child and stops it on exit (SPEC §4.2).
 */

export class RedisUnavailable extends Error {
  constructor(url: string) {
    super(
      [
        `No Redis answers at ${url} and redis-server is not installed.`,
        'Get one of these:',
        '  - install it: sudo apt-get install redis-server   (or: brew install redis)',
        '  - run the bundled stack: docker compose up -d redis',
        '  - point REDIS_URL at an existing Redis: REDIS_URL=redis://host:6379',
      ].join('\n'),
    );
    this.name = 'RedisUnavailable';
  }
}

export interface EmbeddedRedis {
  url: string;
  stop(): Promise<void>;
}

export async function redisAnswers(host: string, port: number): Promise<boolean> {
  const probe = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

export async function startEmbeddedRedis(dataDir: string, log: Logger, port = 6379): Promise<EmbeddedRedis> {
  const url = `redis://127.0.0.1:${port}`;
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error) throw new RedisUnavailable(url);
  const dir = resolve(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const child: ChildProcess = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  log.warn({ url, dir }, 'no Redis was running: started a private redis-server for this process (stopped on exit)');
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    if (await redisAnswers('127.0.0.1', port)) {
      return {
        url,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`the private redis-server did not start on port ${port} (see its output above)`);
}
