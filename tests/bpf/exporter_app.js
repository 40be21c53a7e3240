'use strict';
// exporter_app.js — a Node.js app watched by `loopscope exporter` (tests/bpf/test_exporter.c).
//   node exporter_app.js spin FRACTION TAG [PERIOD]  busy FRACTION of every PERIOD ms (100)
//   node exporter_app.js pool JOBS TAG       keeps JOBS pbkdf2 jobs in libuv's pool at all times,
//                                            and is busy 20 % of every 10 ms
//   node exporter_app.js wait MS TAG         waits MS ms of every 50 in Atomics.wait (a futex
//                                            sleep on the loop thread: a blocking call)
// TAG only marks the command line (the exporter's --match). Prints "ready"; on SIGUSR2 measures
// its own event-loop utilization (perf_hooks) over the next ELU_SPAN_MS (10000) and prints
// "elu U waited S" (S: seconds spent in Atomics.wait in that span).
const crypto = require('crypto');
const { performance } = require('perf_hooks');

const [mode, arg, , periodArg] = process.argv.slice(2);
const busy = mode === 'spin' ? +arg : mode === 'pool' ? 0.2 : 0;
const period = +(periodArg || (mode === 'spin' ? 100 : 10));

setInterval(() => {
  const t = performance.now();
  while (performance.now() - t < period * busy);
}, period);

let waited = 0;
if (mode === 'wait') {
  const ia = new Int32Array(new SharedArrayBuffer(4));
  setInterval(() => {
    const t = performance.now();
    Atomics.wait(ia, 0, 0, +arg);
    waited += performance.now() - t;
  }, 50);
}

if (mode === 'pool') {
  const one = () => crypto.pbkdf2('secret', 'salt', 200000, 64, 'sha512', one);
  for (let i = 0; i < +arg; i++) one();
}

process.on('SIGUSR2', () => {
  const e0 = performance.eventLoopUtilization(), w0 = waited;
  setTimeout(() => {
    console.log('elu', performance.eventLoopUtilization(e0).utilization.toFixed(4), 'waited',
      ((waited - w0) / 1000).toFixed(4));
  }, +(process.env.ELU_SPAN_MS || 10000));
});
process.on('SIGTERM', () => process.exit(0));
console.log('ready');
