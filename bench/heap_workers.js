// The same allocation-heavy work on the main thread alone or spread over Worker threads, for
// bench/heap_workers.sh: what `--heap full` costs per allocation on worker_threads against the
// main thread. Each operation reaches malloc several times (a zero-filled Buffer's backing store,
// a hash context of OpenSSL's) from the same few JS functions. The workers are started and warm
// first. Printed: the work phase alone, from "go" to the last "done": its wall time (work_ms) and
// the process's CPU time over it, every thread's (cpu_ms); start-up, which allocates too, is left
// out.
//   node bench/heap_workers.js main|workers [THREADS] [OPS]
'use strict';
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const crypto = require('crypto');

function work(ops) {
  let sum = 0;
  for (let i = 0; i < ops; i++) {
    const b = Buffer.alloc(64 + (i % 61) * 24);
    b[0] = i & 0xff;
    sum += b.length;
    if ((i & 3) === 0)
      sum += crypto.createHash('sha1').update(b).digest()[0];
  }
  return sum;
}

// The process's CPU time since c0 (every thread's), in ms.
function cpuMs(c0) {
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) / 1000).toFixed(1);
}

if (!isMainThread) {
  work(2000); // warm: the JIT, the first allocations
  parentPort.postMessage('ready');
  parentPort.once('message', () => {
    work(workerData.ops);
    parentPort.postMessage('done');
  });
} else {
  const how = process.argv[2] || 'main';
  const threads = Number(process.argv[3] || 4);
  const ops = Number(process.argv[4] || 400000);
  if (how === 'main') {
    work(2000);
    const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
    work(ops);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    console.log(`main ops ${ops} work_ms ${ms.toFixed(1)} cpu_ms ${cpuMs(c0)}`);
  } else {
    const ws = [];
    let ready = 0, done = 0, t0, c0;
    for (let i = 0; i < threads; i++) {
      const w = new Worker(__filename, { workerData: { ops: Math.floor(ops / threads) } });
      ws.push(w);
      w.on('message', (m) => {
        if (m === 'ready' && ++ready === threads) {
          t0 = process.hrtime.bigint();
          c0 = process.cpuUsage();
          for (const x of ws)
            x.postMessage('go');
        } else if (m === 'done' && ++done === threads) {
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          console.log(`workers ${threads} ops ${ops} work_ms ${ms.toFixed(1)} cpu_ms ${cpuMs(c0)}`);
        }
      });
    }
  }
}
