// gc_storm.js MODE PORTFILE — plain http. bad: every GET /stats builds 150,000 short-lived
// objects to sum three numbers (makeGarbage, line 12): the young generation fills again and
// again and collections stop the loop. clean: the same sum in a loop with no allocation.
'use strict';
const http = require('http');
const serve = require('./serve');

const [mode, portFile] = process.argv.slice(2);
const N = 150000;

function sumPlain() { let s = 0; for (let i = 0; i < N; i++) s += i % 7; return s; }
function makeGarbage() { return Array.from({ length: N }, (_, i) => ({ v: i % 7, tag: `t${i}` })).reduce((s, o) => s + o.v, 0); }

serve(http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ sum: mode === 'bad' ? makeGarbage() : sumPlain() }));
}), portFile);
