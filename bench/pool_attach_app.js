// pool_attach_app.js KIND JOBS CHAINS — tiny thread-pool jobs back to back, for
// bench/pool_attach_cost.sh: CHAINS chains, each submitting its next job from the previous
// one's callback, JOBS in all, of KIND: "stat" (fs.stat, libuv's uv__work_submit) or "pbkdf2"
// (crypto.pbkdf2 of one iteration, uv_queue_work). Prints "ready", starts on SIGUSR2 (once
// attach is in place), prints the jobs' wall time and the process's CPU time (user + system,
// all threads) in ms, and exits.
'use strict';
const fs = require('fs');
const crypto = require('crypto');

const [kind, jobs, chains] = [process.argv[2], +process.argv[3], +process.argv[4]];
const job = kind === 'stat' ? (cb) => fs.stat(__filename, cb)
  : (cb) => crypto.pbkdf2('pw', 'salt', 1, 32, 'sha256', cb);
let left = jobs;

process.on('SIGUSR2', () => {
  const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
  let running = chains;
  const next = () => {
    if (left <= 0) {
      if (--running === 0) {
        const c = process.cpuUsage(c0);
        console.log(`${Number(process.hrtime.bigint() - t0) / 1e6} ${(c.user + c.system) / 1e3}`);
        process.exit(0);
      }
      return;
    }
    left--;
    job(next);
  };
  for (let i = 0; i < chains; i++) next();
});
setInterval(() => {}, 1000);
console.log('ready');
