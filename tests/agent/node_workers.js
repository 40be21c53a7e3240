// node_workers.js — Worker threads with known ground truth, for tests/agent/test_workers.c and
// tests/bpf/test_workers.c. Each thread measures its own event-loop utilization with
// perf_hooks; the main thread writes them to TRUTH as JSON and exits.
//   node node_workers.js spin TRUTH [--wait]   the main loop idles (a 100 ms heartbeat) while one
//                                              Worker spins 200 ms of every 250 ms for 4 s
//   node node_workers.js hash TRUTH            four Workers each run pbkdf2Sync 12 times, one
//                                              every 50 ms; the main loop idles
// --wait: print "ready" and start only at SIGUSR2 (attach is in place by then).
'use strict';
const { Worker, isMainThread, parentPort, workerData, threadId } = require('worker_threads');
const { performance } = require('perf_hooks');
const crypto = require('crypto');
const fs = require('fs');

function spinInWorker(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  return x;
}

function hashOnce() {
  return crypto.pbkdf2Sync('secret', 'salt', 60000, 64, 'sha512');
}

if (!isMainThread) {
  const e0 = performance.eventLoopUtilization();
  let n = 0;
  const done = () => parentPort.postMessage({
    id: threadId, elu: performance.eventLoopUtilization(e0).utilization,
  });
  if (workerData.mode === 'spin') {
    const t0 = Date.now();
    const iv = setInterval(() => {
      spinInWorker(200);
      if (Date.now() - t0 >= 4000) { clearInterval(iv); done(); }
    }, 250);
  } else {
    const iv = setInterval(() => {
      hashOnce();
      if (++n === 12) { clearInterval(iv); done(); }
    }, 50);
  }
} else {
  const [mode, truth] = process.argv.slice(2);
  const start = () => {
    const e0 = performance.eventLoopUtilization();
    const heartbeat = setInterval(() => {}, 100);
    const workers = mode === 'spin' ? 1 : 4, got = [];
    for (let i = 0; i < workers; i++) {
      new Worker(__filename, { workerData: { mode } }).on('message', (m) => {
        got.push(m);
        if (got.length < workers) return;
        clearInterval(heartbeat);
        fs.writeFileSync(truth, JSON.stringify({
          main_elu: performance.eventLoopUtilization(e0).utilization, workers: got,
        }));
      });
    }
  };
  if (process.argv.includes('--wait')) {
    const idle = setInterval(() => {}, 100); // a signal listener alone keeps no loop alive
    process.on('SIGUSR2', () => { clearInterval(idle); start(); });
    console.log('ready');
  } else {
    start();
  }
}
