// node_keep.js OUT [REQUESTS [hold]] — a leak on express: the POST /items handler (keepItems,
// line 18) keeps a copy of every request's items in a global array, and a client in this
// process sends REQUESTS (default 1500) of 200 items each, two at a time. The copy is made in the handler's own body:
// V8's heap profiler names the function whose frame allocated, and a function it inlined into
// its caller allocates in its caller's frame. Run with --expose-gc: the heap used
// after a full GC before the load and after it is Node's own count of what the load kept.
// Writes {requests, heapUsedGrowth, pid} to OUT as JSON (to OUT.tmp, then renamed), then exits;
// with 'hold', stays up until killed.
'use strict';
const fs = require('fs');
const http = require('http');
const express = require('express');

const kept = [];
const app = express();
app.use(express.json({ limit: '1mb' }));
let requests = 0;
app.post('/items', function keepItems(req, res) {
  const copy = [];
  for (const it of req.body.items)
    copy.push({ id: it.id, qty: it.qty, price: it.price, seen: Date.now() });
  kept.push(copy);
  requests++;
  res.json({ kept: kept.length });
});

const body = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, qty: i % 7, price: i * 3 })) });
function post(port) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/items', method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
    (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', reject);
    req.end(body);
  });
}

function heapAfterGc() {
  global.gc();
  return process.memoryUsage().heapUsed;
}

const total = Number(process.argv[3] || 1500);
const server = app.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  await post(port); // express and the client warmed up
  const before = heapAfterGc();
  for (let i = 0; i < total / 2; i++)
    await Promise.all([post(port), post(port)]);
  const after = heapAfterGc();
  const result = JSON.stringify({ requests, heapUsedGrowth: after - before, pid: process.pid });
  if (process.argv[4] === 'hold') { // the test reads the recording as it grows, then kills
    fs.writeFileSync(process.argv[2] + '.tmp', result);
    fs.renameSync(process.argv[2] + '.tmp', process.argv[2]);
    setInterval(() => {}, 100); // polls now and then: the agent's reading is taken at a poll
    return;
  }
  // a window and a half with nothing new: the agent reads the heap at the first poll a window
  // after its last reading, and this wait polls once more after that
  await new Promise((r) => setTimeout(r, 1500));
  server.close();
  fs.writeFileSync(process.argv[2], result);
});
