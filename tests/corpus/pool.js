// pool.js MODE PORTFILE — fastify. bad: every POST /login hashes with pbkdf2 (async, on libuv's
// thread pool) at 60,000 iterations, four hashes a request: with four requests at a time the
// pool's 4 threads have a queue that never empties (hashPassword, line 16). clean: one hash of
// 100 iterations a request, within the 4 threads even on a busy CI machine (600 was not).
'use strict';
const http = require('http');
const crypto = require('crypto');
const fastify = require('fastify');
const serve = require('./serve');

const [mode, portFile] = process.argv.slice(2);
const rounds = mode === 'bad' ? 60000 : 100;
let server;
const app = fastify({ serverFactory: (handler) => (server = http.createServer(handler)) });

function hashPassword(pw, salt, done) { crypto.pbkdf2(pw, salt, rounds, 32, 'sha256', done); }
const hash = (pw) => new Promise((ok, ko) => hashPassword(pw, 'salt', (e, k) => (e ? ko(e) : ok(k))));

app.post('/login', async (req) => {
  const keys = await Promise.all((mode === 'bad' ? [0, 1, 2, 3] : [0]).map((i) => hash(`pw${i}`)));
  return { ok: keys.length > 0, items: req.body.items.length };
});
app.ready().then(() => serve(server, portFile));
