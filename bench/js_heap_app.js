// js_heap_app.js [REQUESTS] — an allocation-heavy express route for bench/js_heap.sh: GET
// /orders/:n builds, per request, 300 orders of 4 lines each (about 3,000 fresh objects and
// arrays and as many strings) and answers them as JSON (28 KB): about 770 KB of JS allocation
// per request in all, express's and the client's included (--trace-gc-nvp's `allocated`). A
// client in this process sends REQUESTS (default 3000) over 127.0.0.1, four at a time, then the
// process exits: its wall time is the time of a fixed amount of work, so a slower loop shows as a
// longer run.
// Prints {requests, bytes, ms} (ms: the load alone, after a warm-up request) on stdout.
'use strict';
const http = require('http');
const express = require('express');

const SKUS = ['apple', 'bread', 'cheese', 'dates', 'eggs', 'flour', 'grapes', 'honey'];

function buildOrders(n, seed) {
  const orders = [];
  for (let i = 0; i < 300; i++) {
    const lines = [];
    for (let j = 0; j < 4; j++) {
      const sku = SKUS[(i + j + seed) % SKUS.length];
      lines.push({ sku: sku + '-' + ((i * 7 + j) % 100), qty: (i + j) % 9 + 1,
        price: (i * 13 + j) % 500 / 10, tags: [sku, 'batch' + (seed % 17)] });
    }
    orders.push({ id: n * 1000 + i, customer: 'customer-' + ((i * 31 + seed) % 997), lines,
      total: lines.reduce((s, l) => s + l.qty * l.price, 0),
      created: new Date(1700000000000 + i * 1000).toISOString() });
  }
  return orders;
}

const app = express();
app.set('etag', false);
let served = 0;
app.get('/orders/:n', function listOrders(req, res) {
  const n = Number(req.params.n);
  served++;
  res.json({ n, orders: buildOrders(n, served) });
});

function get(port, n) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/orders/' + n }, (res) => {
      let bytes = 0;
      res.on('data', (d) => { bytes += d.length; });
      res.on('end', () => resolve(bytes));
    });
    req.on('error', reject);
  });
}

const total = Number(process.argv[2] || 3000);
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
http.globalAgent = agent;
const server = app.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  await get(port, 0); // express and the client warmed up
  const t0 = process.hrtime.bigint();
  let bytes = 0, next = 0;
  async function client() {
    while (next < total)
      bytes += await get(port, next++);
  }
  await Promise.all([client(), client(), client(), client()]);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  agent.destroy();
  server.close();
  process.stdout.write(JSON.stringify({ requests: total, bytes, ms: Math.round(ms) }) + '\n');
});
