'use strict';
// record_app.js — a Node.js app recorded in segments by `loopscope exporter --record-dir`
// (tests/bpf/test_exporter_record.c):  node record_app.js SECONDS TAG
// Every 100 ms its loop runs work() (JS on the CPU: CPU samples) and makes garbage (GC pauses);
// every 500 ms it waits 5 ms in Atomics.wait (a futex sleep on the loop thread: a blocking call).
// The middle third of its run works three times as long, so that spans differ. Exits after
// SECONDS. TAG only marks the command line (the exporter's --match).
const seconds = +process.argv[2];
const t0 = Date.now();
const ia = new Int32Array(new SharedArrayBuffer(4));
let keep = [];

function work(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  return x;
}

function garbage() {
  keep = [];
  for (let i = 0; i < 20000; i++) keep.push({ i, s: 'x' + i });
}

let n = 0;
setInterval(() => {
  const t = (Date.now() - t0) / 1000;
  work(t > seconds / 3 && t < (2 * seconds) / 3 ? 15 : 5);
  garbage();
  if (++n % 5 === 0) Atomics.wait(ia, 0, 0, 5);
}, 100);

setTimeout(() => process.exit(0), seconds * 1000);
console.log('ready');
