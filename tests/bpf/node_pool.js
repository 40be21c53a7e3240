// node_pool.js OUT [CLIENTS] [REQUESTS] [ITERATIONS] [PAUSE_MS] — a plain http server whose crypto.pbkdf2 jobs saturate
// libuv's thread pool (the test runs it with UV_THREADPOOL_SIZE=2), for `loopscope attach` to
// measure each job's wait in the pool's queue against what the app measures itself.
// Before "ready": the run time of one derivation with the pool idle (the median of 7). After
// SIGUSR2: CLIENTS clients in this process each send REQUESTS requests, one at a time, to
// 127.0.0.1, PAUSE_MS apart (default 0); each request hashes four passwords (hashPassword calls
// crypto.pbkdf2 of ITERATIONS, default 20000, sha512). Every job's
// submission (the call) and completion (its callback) are timed with process.hrtime. Its wait:
//   simple: callback - call - the idle run time (what a user would compute);
//   fifo:   the pool is FIFO with THREADS workers, so job k starts when job k was called or,
//           if later, when the (k - THREADS + 1)th earliest callback among the jobs before it
//           freed a worker; wait = start - call.
// Writes {jobs, threads, run_ms, p50/p99/max of both} to OUT as JSON, then exits.
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');

const out = process.argv[2];
const clients = +(process.argv[3] || 40), requests = +(process.argv[4] || 5);
const ITER = +(process.argv[5] || 20000), pause = +(process.argv[6] || 0);
const threads = +(process.env.UV_THREADPOOL_SIZE || 4);
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms, CLOCK_MONOTONIC
const jobs = []; // [call, callback]

function hashPassword(password, salt, done) {
  const job = [now(), 0];
  jobs.push(job);
  crypto.pbkdf2(password, salt, ITER, 32, 'sha512', (err, key) => {
    job[1] = now();
    done(err, key);
  });
}

const hash = (pw) => new Promise((ok, ko) => hashPassword(pw, 'salt', (e, k) => (e ? ko(e) : ok(k))));

const server = http.createServer((req, res) => {
  Promise.all([0, 1, 2, 3].map((i) => hash('secret' + i))).then(() => res.end('ok'));
});

function request(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/login', agent: false }, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject);
  });
}

function quantile(v, q) {
  const s = v.slice().sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] : 0;
}

function idleRun(n, times, then) {
  const t0 = now();
  crypto.pbkdf2('idle', 'salt', ITER, 32, 'sha512', () => {
    times.push(now() - t0);
    if (n > 1) idleRun(n - 1, times, then);
    else then(quantile(times, 0.5));
  });
}

idleRun(7, [], (runMs) => {
  jobs.length = 0;
  server.listen(0, '127.0.0.1', () => {
    const port = server.address().port;
    process.on('SIGUSR2', async () => {
      console.log('go');
      await Promise.all(Array.from({ length: clients }, async () => {
        for (let r = 0; r < requests; r++) {
          await request(port);
          if (pause) await new Promise((ok) => setTimeout(ok, pause));
        }
      }));
      server.close();
      const simple = jobs.map(([call, cb]) => Math.max(0, cb - call - runMs));
      const done = [];
      const fifo = jobs.map(([call], k) => {
        // the callbacks of the jobs before k, earliest first: the (k - threads + 1)th frees
        // the worker that takes job k
        if (k >= threads) {
          done.length = 0;
          for (let j = 0; j < k; j++) done.push(jobs[j][1]);
          done.sort((a, b) => a - b);
          return Math.max(0, done[k - threads] - call);
        }
        return 0;
      });
      fs.writeFileSync(out, JSON.stringify({
        jobs: jobs.length, threads, run_ms: runMs,
        p50_ms: quantile(simple, 0.5), p99_ms: quantile(simple, 0.99),
        max_ms: Math.max(...simple),
        fifo_p50_ms: quantile(fifo, 0.5), fifo_p99_ms: quantile(fifo, 0.99),
        fifo_max_ms: Math.max(...fifo),
      }));
      process.exit(0);
    });
    console.log('ready');
  });
});
