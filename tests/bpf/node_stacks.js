'use strict';
// node_stacks.js MODE MS — a Node.js app started with no flag, for whole stacks under attach
// (tests/bpf/test_stacks_attach.c). Prints "waiting", starts on SIGUSR2, works for MS, exits:
//   js      the main thread and a Worker spin in JS, through a recursion 24 calls deep (deeper
//           stacks than a flat loop: the walk must not run out of frames), with Date.now() on
//           the way (the vDSO) and a readFileSync now and then (a blocking call);
//   pbkdf2  four crypto.pbkdf2 (sha512) jobs at a time on libuv's pool (run with
//           UV_THREADPOOL_SIZE=2): OpenSSL's sha512 assembly, which keeps no frame pointer.
const { Worker, isMainThread, workerData } = require('worker_threads');
const crypto = require('crypto'), fs = require('fs');

function spin(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) for (let i = 0; i < 5000; i++) x = (x * 31 + i) % 1000003;
  return x;
}
function deep(n, ms) { return n === 0 ? spin(ms) : deep(n - 1, ms) + 1; }
function spinFor(ms, done) {
  const end = Date.now() + ms;
  const step = () => {
    deep(24, 20);
    if (Math.random() < 0.2) fs.readFileSync(__filename);
    if (Date.now() < end) setImmediate(step);
    else done();
  };
  step();
}

if (!isMainThread) {
  spinFor(workerData, () => process.exit(0));
  return;
}

const [mode, ms] = [process.argv[2], +process.argv[3]];
process.on('SIGUSR2', () => {
  if (mode === 'js') {
    const w = new Worker(__filename, { workerData: ms });
    let left = 2;
    const one = () => { if (--left === 0) process.exit(0); };
    w.on('exit', one);
    spinFor(ms, one);
  } else {
    const end = Date.now() + ms;
    const job = () => crypto.pbkdf2('secret', 'salt', 20000, 64, 'sha512', () => {
      if (Date.now() < end) job();
      else process.exit(0);
    });
    for (let i = 0; i < 4; i++) job();
  }
});
setInterval(() => {}, 1000);
console.error('waiting');
