// healthy_fastify.js MODE PORTFILE — fastify, nothing wrong: GET /items stats a file on the
// thread pool and answers a short list. MODE is ignored.
'use strict';
const http = require('http');
const fs = require('fs');
const fastify = require('fastify');
const serve = require('./serve');

const portFile = process.argv[3];
let server;
const app = fastify({ serverFactory: (handler) => (server = http.createServer(handler)) });
app.get('/items', async () => {
  const st = await fs.promises.stat(__filename);
  return { size: st.size, items: [1, 2, 3].map((i) => ({ id: i, name: `item ${i}` })) };
});
app.ready().then(() => serve(server, portFile));
