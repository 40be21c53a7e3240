'use strict';
// node_js.js — a Node.js app started with no flag, for naming its JS frames under attach
// (tests/bpf/test_js_attach.c). Prints "waiting", starts on SIGUSR2, then:
//   cpu MS      three CPU-bound functions in known proportions, and one that V8 optimizes,
//               deoptimizes (its argument changes type halfway) and optimizes again;
//   server N    an HTTP server on 127.0.0.1 whose handler reads a 64 MiB file synchronously, sent N
//               requests by this same process's client (one at a time).
// The work functions are called from one call site with more targets than V8 inlines
// (megamorphic), so each keeps frames of its own.
const fs = require('fs'), http = require('http'), os = require('os'), path = require('path');

function fibRec(n) { return n < 2 ? n : fibRec(n - 1) + fibRec(n - 2); }
function walkTree(t) { return t === null ? 0 : 1 + walkTree(t.l) + walkTree(t.r); }
function makeTree(d) { return d === 0 ? null : { l: makeTree(d - 1), r: makeTree(d - 1) }; }
function mixAndHash(v) {
  let h = 0;
  for (let i = 0; i < 40000; i++) h = (h * 31 + ((v + i) | 0)) | 0;
  return h;
}
function reoptimized(v) {
  let s = 0;
  for (let i = 0; i < 20000; i++) s += typeof v === 'string' ? v.length + i : v + i;
  return s;
}
function idle1() { return 1; }
function idle2() { return 2; }

function cpu(ms) {
  const tree = makeTree(12);
  const work = [fibRec, walkTree, mixAndHash, reoptimized, fibRec, idle1, idle2];
  const args = [20, tree, 7, 3, 19, 0, 0];
  const t0 = Date.now();
  let sink = 0;
  while (Date.now() - t0 < ms) {
    if (Date.now() - t0 > ms / 2) args[3] = 'abc'; // reoptimized: deoptimized, then again
    // in random order: a periodic workload would alias with the profilers' periodic sampling
    const i = (Math.random() * work.length) | 0;
    sink += work[i](args[i]) | 0;
  }
  return sink;
}

function loadReport(req, res) {
  const data = fs.readFileSync(big);
  res.end(String(data.length));
}
const big = path.join(os.tmpdir(), 'lsc-js-attach-' + process.pid + '.bin');

function server(n) {
  const srv = http.createServer(loadReport).listen(0, '127.0.0.1', () => {
    let done = 0;
    const one = () => http.get({ host: '127.0.0.1', port: srv.address().port, path: '/' }, (r) => {
      r.resume();
      r.on('end', () => {
        if (++done < n) return one();
        srv.close();
      });
    });
    one();
  });
}

const [mode, arg] = process.argv.slice(2);
// the file is written before attach: what it records of the handler is the reads alone, each
// of 64 MiB, several milliseconds even from the page cache
if (mode === 'server') {
  fs.writeFileSync(big, Buffer.alloc(64 << 20, 7));
  process.on('exit', () => fs.rmSync(big, { force: true }));
}
process.on('SIGUSR2', () => {
  if (mode === 'cpu') cpu(+arg);
  else server(+arg);
});
setTimeout(() => {}, 1 << 30).unref();
const keep = setInterval(() => {}, 1000);
process.on('SIGUSR2', () => setImmediate(() => clearInterval(keep)));
console.error('waiting');
