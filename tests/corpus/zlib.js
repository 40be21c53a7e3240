// zlib.js MODE PORTFILE — fastify. bad: every GET /export gzips 2 MiB with gzipSync on the loop
// (compress, line 14). clean: zlib.gzip on the thread pool.
'use strict';
const http = require('http');
const zlib = require('zlib');
const fastify = require('fastify');
const serve = require('./serve');

const [mode, portFile] = process.argv.slice(2);
const text = Buffer.from(Array.from({ length: 60000 }, (_, i) => `line ${i} of the export ${i * 7919 % 1000}\n`).join(''));
let server;
const app = fastify({ serverFactory: (handler) => (server = http.createServer(handler)) });

function compress(buf) { return zlib.gzipSync(buf); }

app.get('/export', async () => {
  const gz = mode === 'bad' ? compress(text) : await new Promise((ok, ko) => zlib.gzip(text, (e, b) => (e ? ko(e) : ok(b))));
  return { bytes: gz.length };
});
app.ready().then(() => serve(server, portFile));
