'use strict';
// exporter_app.js — a Node.js app watched by `loopscope exporter` (tests/bpf/test_exporter.c).
//   node exporter_app.js spin FRACTION TAG [PERIOD]  busy FRACTION of every PERIOD ms (100)
//   node exporter_app.js pool JOBS TAG       keeps JOBS pbkdf2 jobs in libuv's pool at all times,
//                                            and is busy 20 % of every 10 ms
// TAG only marks the command line (the exporter's --match). Prints "ready"; on SIGUSR2 measures
// its own event-loop utilization (perf_hooks) over the next ELU_SPAN_MS (10000) and prints
// "elu U".
const crypto = require('crypto');
const { performance } = require('perf_hooks');

const [mode, arg, , periodArg] = process.argv.slice(2);
const busy = mode === 'spin' ? +arg : 0.2;
const period = +(periodArg || (mode === 'spin' ? 100 : 10));

setInterval(() => {
  const t = performance.now();
  while (performance.now() - t < period * busy);
}, period);

if (mode === 'pool') {
  const one = () => crypto.pbkdf2('secret', 'salt', 200000, 64, 'sha512', one);
  for (let i = 0; i < +arg; i++) one();
}

process.on('SIGUSR2', () => {
  const e0 = performance.eventLoopUtilization();
  setTimeout(() => {
    console.log('elu', performance.eventLoopUtilization(e0).utilization.toFixed(4));
  }, +(process.env.ELU_SPAN_MS || 10000));
});
process.on('SIGTERM', () => process.exit(0));
console.log('ready');
