'use strict';
// node_pitfalls.js MODE — one classic pitfall each, for tests/agent/test_pitfalls.c (run) and
// tests/bpf/test_pitfalls_attach.c; each prints its own ground truth as one JSON line.
//   tick      a process.nextTick chain re-queuing itself (spin) for 150 ms every 500 ms, 3 s
//   await     the same as a promise loop: while (...) { work(); await null } (awaitLoop)
//   many      the control: 200 short nextTicks every 500 ms (no chain holds the loop)
//             (these three: a second argument --wait-signal waits for SIGUSR2 to begin)
//   ignore    a producer writes 64 KiB buffers to a socket whose reader never reads, without
//             looking at write()'s answer (produce), 3 s
//   drain     the same producer waiting for 'drain' whenever write() says false: the control
//   hang      an HTTP server streaming to a client and a forgotten setInterval; on SIGTERM it
//             only closes the server, so the process never exits (the test kills it)
const crypto = require('crypto');
const net = require('net');
const http = require('http');
const mode = process.argv[2];

function work() { crypto.createHash('sha256').update('x'.repeat(64)).digest(); }
function spin(until) { work(); if (performance.now() < until) process.nextTick(spin, until); }
async function awaitLoop(until) { while (performance.now() < until) { work(); await null; } }
function burst() { for (let i = 0; i < 200; i++) process.nextTick(work); }

function chainsMode() {
  let late = 0, last = performance.now(), chains = 0;
  const beat = setInterval(() => { const n = performance.now(); late = Math.max(late, n - last - 1); last = n; }, 1);
  const every = setInterval(() => {
    const until = performance.now() + 150;
    chains++;
    if (mode === 'tick') spin(until);
    else if (mode === 'await') awaitLoop(until);
    else burst();
  }, 500);
  setTimeout(() => {
    clearInterval(every);
    clearInterval(beat);
    console.log(JSON.stringify({ chains, heartbeat_max_late_ms: late }));
  }, 3000);
}

if (mode === 'tick' || mode === 'await' || mode === 'many') {
  if (process.argv[3] === '--wait-signal') { // attach first (tests/bpf): start on SIGUSR2
    const idle = setInterval(() => {}, 1 << 30); // signal handles do not keep Node alive
    process.once('SIGUSR2', () => { clearInterval(idle); chainsMode(); });
    console.error('waiting for SIGUSR2');
  } else {
    chainsMode();
  }
} else if (mode === 'ignore' || mode === 'drain') {
  const server = net.createServer((sock) => sock.pause());
  server.listen(0, '127.0.0.1', () => {
    const out = net.connect(server.address().port, '127.0.0.1');
    let blocked = false, max = 0;
    const produce = () => {
      for (let i = 0; i < 16; i++) {
        if (blocked) return;
        const ok = out.write(Buffer.alloc(64 * 1024, i));
        if (!ok && mode === 'drain') {
          blocked = true;
          out.once('drain', () => { blocked = false; });
        }
      }
      if (out.writableLength > max) max = out.writableLength;
    };
    const t = setInterval(produce, 10);
    setTimeout(() => {
      clearInterval(t);
      console.log(JSON.stringify({ writable_length_max: max, writable_length: out.writableLength }));
      out.destroy();
      server.close();
    }, 3000);
  });
} else if (mode === 'hang') {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const tick = setInterval(() => res.write('data: tick\n\n'), 100);
    res.on('close', () => clearInterval(tick));
  });
  setInterval(function refreshCache() {}, 200); // forgotten: nothing clears it
  process.on('SIGTERM', () => { server.close(); console.log(JSON.stringify({ closing: true })); });
  server.listen(0, '127.0.0.1', () => {
    http.get({ port: server.address().port, host: '127.0.0.1' }, (res) => {
      res.once('data', () => console.log(JSON.stringify({ ready: process.pid })));
      res.resume();
    });
  });
} else {
  throw new Error('mode: tick, await, many, ignore, drain or hang');
}
