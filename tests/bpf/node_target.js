// node_target.js MODE OUT — a Node.js program for `loopscope attach` to attach to. It prints
// "ready" once its loop runs, waits for SIGUSR2 (sent once the test's attach is in place), prints
// "go", runs one phase, writes what Node itself measured to OUT as JSON, and exits:
//   loop  an HTTP server under steady load from a child process, CPU work in each request, 3 s;
//         Node's event-loop utilization every 20 ms (cumulative idle/active ms, with
//         process.hrtime, i.e. CLOCK_MONOTONIC) and monitorEventLoopDelay's p99
//   gc    short-lived objects for 2 s (run with --trace-gc: the test counts its lines after "go")
//   pool  32 concurrent crypto.pbkdf2 calls (run with UV_THREADPOOL_SIZE=4)
//   tcp   10 client connections (a child process) held for 1.5 s, then closed, then 1.5 s more
//   cpu   hotLoop, a JS function burning CPU, for 2 s
'use strict';
const http = require('http');
const net = require('net');
const fs = require('fs');
const crypto = require('crypto');
const { performance, monitorEventLoopDelay } = require('perf_hooks');
const { spawn } = require('child_process');

const [mode, out] = process.argv.slice(2);

if (mode === 'client') {
  // node_target.js client PORT SECONDS: keep-alive requests, two at a time
  const port = +process.argv[3], until = Date.now() + 1000 * +process.argv[4];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const one = () => {
    if (Date.now() > until) return;
    http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      res.resume();
      res.on('end', () => setTimeout(one, 1));
    }).on('error', () => setTimeout(one, 10));
  };
  one();
  one();
  setTimeout(() => process.exit(0), 1000 * +process.argv[4] + 300);
  return;
}
if (mode === 'holder') {
  // node_target.js holder PORT N MS: N connections, held MS, then closed
  const port = +process.argv[3], n = +process.argv[4], ms = +process.argv[5];
  const socks = [];
  for (let i = 0; i < n; i++) socks.push(net.connect(port, '127.0.0.1'));
  setTimeout(() => { for (const s of socks) s.destroy(); process.exit(0); }, ms);
  return;
}

const done = (result) => {
  fs.writeFileSync(out, JSON.stringify(result));
  process.exit(0);
};

function hotLoop(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) for (let i = 0; i < 10000; i++) x = (x * 31 + i) % 1000003;
  return x;
}

// The ELU timeline runs from the start, so that the test can take Node's ELU over exactly the
// recording's windows (the first of which begins before "go").
const timeline = [];
const sampleElu = () => {
  const e = performance.eventLoopUtilization();
  timeline.push([Number(process.hrtime.bigint()), e.idle, e.active]);
};
const sampler = mode === 'loop' ? setInterval(sampleElu, 20) : null;

let goNs = 0;

function phase() {
  console.log('go');
  goNs = Number(process.hrtime.bigint());
  if (mode === 'loop') {
    const h = monitorEventLoopDelay({ resolution: 1 });
    const server = http.createServer((req, res) => {
      hotLoop(1);
      res.end('ok');
    });
    server.listen(0, '127.0.0.1', () => {
      const port = server.address().port;
      h.enable();
      const child = spawn(process.execPath, [__filename, 'client', port, 3], { stdio: 'ignore' });
      child.on('exit', () => {
        clearInterval(sampler);
        sampleElu();
        h.disable();
        done({ timeline, go_ns: goNs, lag_p99_ns: h.percentile(99), lag_max_ns: h.max });
      });
    });
  } else if (mode === 'gc') {
    let keep = [];
    const until = Date.now() + 2000;
    const churn = () => {
      for (let i = 0; i < 20000; i++) keep.push({ a: i, b: 'x' + i });
      if (keep.length > 200000) keep = [];
      if (Date.now() < until) setImmediate(churn);
      else done({});
    };
    churn();
  } else if (mode === 'pool') {
    let left = 32;
    for (let i = 0; i < 32; i++)
      crypto.pbkdf2('secret', 'salt' + i, 200000, 64, 'sha512', () => {
        if (--left === 0) done({ jobs: 32 });
      });
  } else if (mode === 'tcp') {
    const server = net.createServer((s) => s.on('error', () => {}));
    server.listen(0, '127.0.0.1', () => {
      const child = spawn(process.execPath, [__filename, 'holder', server.address().port, 10, 1500],
        { stdio: 'ignore' });
      child.on('exit', () => setTimeout(() => done({ clients: 10 }), 1500));
    });
  } else if (mode === 'cpu') {
    const until = Date.now() + 2000;
    const spin = () => {
      hotLoop(20);
      if (Date.now() < until) setImmediate(spin);
      else done({});
    };
    spin();
  }
}

process.on('SIGUSR2', phase);
const keepAlive = setInterval(() => {}, 1000);
setTimeout(() => { console.log('ready'); }, 50);
setTimeout(() => { clearInterval(keepAlive); process.exit(3); }, 60000); // never hang a test
