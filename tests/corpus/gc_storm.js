// gc_storm.js MODE PORTFILE — plain http. bad: every GET /stats builds 150,000 short-lived
// objects to sum them and keeps the last twelve results a while (makeGarbage, line 15): the young
// generation fills again and again, each collection copies what is still kept, and collections
// stop the loop. clean: the same sum in a loop with no allocation.
'use strict';
const http = require('http');
const serve = require('./serve');

const [mode, portFile] = process.argv.slice(2);
const N = 150000;
const recent = []; // the last twelve results, for a while: each collection copies them again
let n = 0;

function sumPlain() { let s = 0; for (let i = 0; i < N; i++) s += i % 7; return s; }
function makeGarbage() { const a = []; for (let i = 0; i < N; i++) a.push({ v: i % 7, tag: `t${i}` }); recent[n++ % 12] = a; let s = 0; for (const o of a) s += o.v; return s; }

serve(http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ sum: mode === 'bad' ? makeGarbage() : sumPlain() }));
}), portFile);
