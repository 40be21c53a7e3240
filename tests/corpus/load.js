// load.js PORT PATH REQUESTS CONCURRENCY [METHOD] — a bounded load on 127.0.0.1: REQUESTS
// requests to PATH, CONCURRENCY at a time over keep-alive connections (POST sends a JSON body
// of 50 items). Prints "done N failed F" and exits 0; 1 if any failed.
'use strict';
const http = require('http');

const [port, path, total, conc, method = 'GET'] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(conc) });
const body = method === 'POST'
  ? JSON.stringify({ items: Array.from({ length: 50 }, (_, i) => ({ id: i, qty: i % 5, price: i * 3 })) })
  : null;
let sent = 0, done = 0, failed = 0;

function one() {
  if (sent >= Number(total)) return;
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
  if (++done === Number(total)) {
    console.log(`done ${done} failed ${failed}`);
    agent.destroy();
    process.exitCode = failed ? 1 : 0;
  } else {
    one();
  }
}

for (let i = 0; i < Number(conc); i++) one();
