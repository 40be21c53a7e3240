// A cluster's start, for bench/cluster_start.sh: the primary forks WORKERS workers, each an HTTP
// server on 127.0.0.1 port 0; when all of them report 'listening' the primary prints how long
// that took since LSC_T0 (ms since the epoch, set by the script just before it starts the
// command: loopscope's own start and the agent's in each process count) and since it forked
// them (the workers' start alone), then disconnects the workers and exits.
//   LSC_T0=MS node bench/cluster_start.js [WORKERS]
'use strict';
const cluster = require('cluster');
const http = require('http');

if (cluster.isPrimary) {
  const n = Number(process.argv[2] || 2);
  let listening = 0;
  const forked = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    cluster.fork().on('listening', () => {
      if (++listening < n)
        return;
      const ms = Date.now() - Number(process.env.LSC_T0);
      const fork = Number(process.hrtime.bigint() - forked) / 1e6;
      console.log(`workers ${n} listening_ms ${ms} fork_to_listening_ms ${fork.toFixed(1)}`);
      for (const id in cluster.workers)
        cluster.workers[id].disconnect();
    });
  }
} else {
  http.createServer((req, res) => res.end('ok\n')).listen(0, '127.0.0.1');
}
