'use strict';
/** Child processes for the benchmark: start, wait until ready, sample RSS of a process tree, stop. */
const { spawn, fork } = require('node:child_process');
const { readFileSync, readdirSync, openSync } = require('node:fs');
const net = require('node:net');

/** RSS in bytes of a process and all its descendants (cluster workers), from /proc. */
function treeRss(pid) {
  let total = 0;
  const pids = [pid];
  while (pids.length) {
    const p = pids.pop();
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const children = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        if (children) pids.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

function treeRssEach(pid) {
  const out = [];
  const pids = [pid];
  while (pids.length) {
    const p = pids.pop();
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      out.push({ pid: p, rss: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024 });
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const children = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        if (children) pids.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** CPU seconds (user + system) used so far by a process and its descendants, from /proc. */
function treeCpuSeconds(pid) {
  const ticks = 100; // USER_HZ on Linux
  let total = 0;
  const pids = [pid];
  while (pids.length) {
    const p = pids.pop();
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / ticks;
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const children = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        if (children) pids.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** Samples the tree's RSS every `everyMs` until stopped; returns { peak, samples }. */
function sampleRss(pid, everyMs = 100) {
  const samples = [];
  let peak = 0;
  const t0 = Date.now();
  const timer = setInterval(() => {
    const rss = treeRss(pid);
    peak = Math.max(peak, rss);
    samples.push({ t: Date.now() - t0, rss });
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return { peak, samples };
    },
  };
}

async function waitForPort(port, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts a program; `logFile` gets its stdout and stderr. */
function start(command, args, { env = {}, logFile, cwd } = {}) {
  const out = logFile ? openSync(logFile, 'a') : 'ignore';
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
  return wrap(child);
}

function startNode(script, args, { env = {}, logFile, execArgv = [] } = {}) {
  const out = logFile ? openSync(logFile, 'a') : 'ignore';
  const child = fork(script, args, { env: { ...process.env, ...env }, stdio: ['ignore', out, out, 'ipc'], execArgv });
  return wrap(child);
}

function wrap(child) {
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    pid: child.pid,
    exited,
    rss: () => treeRss(child.pid),
    rssEach: () => treeRssEach(child.pid),
    async stop(signal = 'SIGTERM', graceMs = 15000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

module.exports = { treeCpuSeconds, treeRss, sampleRss, waitForPort, start, startNode };
