// node_json.js OUT — a CPU-bound route on fastify: /copy deep-copies a large object with a JSON
// round trip (roundTrip, line 12), and a client in this process sends 120 requests, two at a
// time. Writes {requests} to OUT as JSON, then exits.
'use strict';
const fs = require('fs');
const http = require('http');
const fastify = require('fastify')();

const big = { items: Array.from({ length: 20000 }, (_, i) => ({ id: i, name: 'item' + i,
  tags: ['a', 'b', 'c'], price: i * 1.5 })) };

function roundTrip(obj) {
  return JSON.parse(JSON.stringify(obj));
}

let requests = 0;
fastify.get('/copy', async () => {
  requests++;
  return { n: roundTrip(big).items.length };
});

function get(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/copy' }, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject);
  });
}

fastify.listen({ port: 0, host: '127.0.0.1' }).then(async () => {
  const port = fastify.server.address().port;
  for (let i = 0; i < 60; i++)
    await Promise.all([get(port), get(port)]);
  await fastify.close();
  fs.writeFileSync(process.argv[2], JSON.stringify({ requests }));
});
