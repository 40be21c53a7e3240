// node_pool.js OUT — a saturated thread pool in Node, on fastify: a route awaits 8 crypto.pbkdf2
// derivations per request (hashPassword submits them), and a client in this process keeps 6
// requests in flight for 8 rounds, on a pool of UV_THREADPOOL_SIZE threads (the test sets 2).
// The app counts its own derivations in flight (submitted, callback not yet run); the most at
// once, less the pool's threads, is the deepest the queue can have been (each is counted until
// its await resumes, a little after its callback ran: an upper bound). Writes
// {maxInFlight, threads, jobs} to OUT as JSON, then exits.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const util = require('util');
const fastify = require('fastify')();

const pbkdf2 = util.promisify(crypto.pbkdf2);
const out = process.argv[2];
const threads = +(process.env.UV_THREADPOOL_SIZE || 4);
let inFlight = 0, maxInFlight = 0, jobs = 0;

async function hashPassword(password, salt) {
  inFlight++;
  jobs++;
  if (inFlight > maxInFlight) maxInFlight = inFlight;
  try {
    return await pbkdf2(password, salt, 10000, 32, 'sha512');
  } finally {
    inFlight--;
  }
}

fastify.get('/login', async () => {
  const keys = await Promise.all(
    Array.from({ length: 8 }, (_, i) => hashPassword('secret' + i, 'salt')));
  return { ok: keys.length };
});

function request(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/login' }, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject);
  });
}

fastify.listen({ port: 0, host: '127.0.0.1' }).then(async () => {
  const port = fastify.server.address().port;
  for (let round = 0; round < 8; round++)
    await Promise.all(Array.from({ length: 6 }, () => request(port)));
  await fastify.close();
  fs.writeFileSync(out, JSON.stringify({ maxInFlight, threads, jobs }));
});
