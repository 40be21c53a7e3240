// node_startup.js — a fastify app that starts, listens on loopback, answers one request of its
// own and exits: Node's and the framework's start-up, for bench/js_names.sh to time.
'use strict';
const http = require('http');
const fastify = require('fastify')();

fastify.get('/', async () => ({ ok: true }));
fastify.listen({ port: 0, host: '127.0.0.1' }).then(() => {
  http.get({ host: '127.0.0.1', port: fastify.server.address().port, path: '/' }, (res) => {
    res.resume();
    res.on('end', () => fastify.close());
  });
});
