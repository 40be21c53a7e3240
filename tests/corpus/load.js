// load.js PORT PATH REQUESTS CONCURRENCY [METHOD] [SECONDS] — a bounded load on 127.0.0.1:
// REQUESTS requests to PATH, CONCURRENCY at a time over keep-alive connections (POST sends a
// JSON body of 50 items), and none sent after SECONDS (default: no time bound), so that a slow
// machine (a page fault costing ten times what it did) gets a shorter load, not a longer test.
// Prints "done N failed F" and exits 0; 1 if any failed.
'use strict';
const http = require('http');

const [port, path, total, conc, method = 'GET', seconds] = process.argv.slice(2);
const deadline = seconds ? Date.now() + 1000 * Number(seconds) : Infinity;
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(conc) });
const body = method === 'POST'
  ? JSON.stringify({ items: Array.from({ length: 50 }, (_, i) => ({ id: i, qty: i % 5, price: i * 3 })) })
  : null;
let sent = 0, done = 0, failed = 0;

function more() { return sent < Number(total) && Date.now() < deadline; }

function one() {
  sent++;
  const req = http.request({ host: '127.0.0.1', port: Number(port), path, method, agent,
    headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} },
  (res) => {
    res.resume();
    res.on('end', () => { if (res.statusCode !== 200) failed++; finish(); });
  });
  req.on('error', () => { failed++; finish(); });
  req.end(body);
}

function finish() {
  done++;
  if (more()) {
    one();
  } else if (done === sent) {
    console.log(`done ${done} failed ${failed}`);
    agent.destroy();
    process.exitCode = failed ? 1 : 0;
  }
}

for (let i = 0; i < Number(conc) && more(); i++) one();
