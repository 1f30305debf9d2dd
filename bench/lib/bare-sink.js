'use strict';
/**
 * The baseline: a bare smtp-server that accepts every message and discards it, with the listener
 * options the project uses (no AUTH, no STARTTLS, size limit). `node bare-sink.js PORT [PROCESSES]`;
 * with more than one process it runs under cluster with SCHED_NONE, as the intake does.
 */
const cluster = require('node:cluster');
const { SMTPServer } = require('smtp-server');

const port = Number(process.argv[2]);
const processes = Number(process.argv[3] || 1);

if (processes > 1 && cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  for (let i = 0; i < processes; i++) cluster.fork();
  let ready = 0;
  cluster.on('message', (_w, m) => {
    if (m === 'listening' && ++ready === processes) process.send?.('listening');
  });
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGKILL');
    process.exit(0);
  });
} else {
  const server = new SMTPServer({
    name: 'bare-sink',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    hideSTARTTLS: true,
    size: 10 * 1024 * 1024,
    maxClients: 5000,
    logger: false,
    onData(stream, _session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => callback(null, '2.0.0 Accepted'));
    },
  });
  server.on('error', () => undefined);
  server.listen(port, '127.0.0.1', () => process.send?.('listening'));
  process.on('SIGTERM', () => process.exit(0));
}
