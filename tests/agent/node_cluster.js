// node_cluster.js — a cluster (a primary and two workers serving HTTP on 127.0.0.1) under a
// bounded load the primary makes itself, for tests/agent/test_cluster.c and
// tests/bpf/test_cluster_attach.c.
//   node node_cluster.js [--slow] [--wait] [--requests N]
// --slow: worker 1 spins 20 ms in each request it serves (slowRoute). --wait: print "ready"
// once the workers listen and begin the load at SIGUSR2 (attach is in place by then).
// The primary prints "served N" and exits after the load; the workers exit with it.
'use strict';
const cluster = require('cluster');
const http = require('http');

const slow = process.argv.includes('--slow');
const ri = process.argv.indexOf('--requests');
const requests = ri > 0 ? +process.argv[ri + 1] : 400;

function slowRoute(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  return x;
}

if (cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_RR; // the primary hands out connections: even
  const workers = [cluster.fork(), cluster.fork()];
  let listening = 0, port = 0;
  const load = () => {
    const agent = new http.Agent({ keepAlive: false, maxSockets: 8 });
    let done = 0, started = 0;
    const one = () => {
      if (started >= requests) return;
      started++;
      http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (++done === requests) {
            console.log('served ' + done);
            for (const w of workers) w.disconnect();
          } else one();
        });
      }).on('error', (e) => { console.error(e.message); process.exit(1); });
    };
    for (let i = 0; i < 8; i++) one();
  };
  cluster.on('listening', (w, addr) => {
    port = addr.port;
    if (++listening < workers.length) return;
    if (process.argv.includes('--wait')) {
      process.on('SIGUSR2', load);
      console.log('ready');
    } else load();
  });
} else {
  http.createServer((req, res) => {
    if (slow && cluster.worker.id === 1) slowRoute(20);
    res.end('ok\n');
  }).listen(0, '127.0.0.1');
  // cluster shares one port among the workers: listen(0) in a worker gets the primary's
}
