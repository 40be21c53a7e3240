'use strict';
// snap_app.js — a Node.js program that leaks in one known way, then writes a V8 heap snapshot
// (tests/heap/test_heapsnap.c):  node snap_app.js MODE FILE
//   map       an unbounded Map in a closure (`cache`, behind the module's `handler`)
//   array     a global array of class instances (`globalThis.sessions`, Session objects)
//   listener  a listener added per request and never removed (`bus`'s 'tick' listeners)
//   timer     objects held by a timer's callback (`setInterval` keeping `retired` alive)
//   flat      nothing retained: the control
// Or three snapshots in a row, PREFIX-1.heapsnapshot to PREFIX-3:
//   node snap_app.js grow PREFIX     a cache Map and a global array of Sessions growing between
//                                     them (the leak the three-snapshot method finds)
//   node snap_app.js steady PREFIX   as much allocated, nothing kept: the control
// Or under `loopscope run --heap-snapshot-on SIGUSR2,exit` (the snapshots Node writes itself):
//   node snap_app.js signal DIR      a cache Map growing in three rounds, a SIGUSR2 to itself
//                                     after each, the next round once Node's snapshot is in DIR
const v8 = require('v8');
const { EventEmitter } = require('events');

const [mode, file] = process.argv.slice(2);

class Session {
  constructor(i) { this.id = i; this.user = 'user' + i; this.data = new Array(40).fill(i); }
}

if (mode === 'map') {
  const handler = (() => {
    const cache = new Map();
    return (k) => cache.set('key' + k, { k, payload: new Array(20).fill(k) });
  })();
  for (let i = 0; i < 20000; i++) handler(i);
  setTimeout(() => handler(-1), 1e6).unref();
} else if (mode === 'array') {
  globalThis.sessions = [];
  for (let i = 0; i < 10000; i++) globalThis.sessions.push(new Session(i));
} else if (mode === 'listener') {
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  for (let i = 0; i < 5000; i++) {
    const request = { i, body: new Array(60).fill(i) };
    bus.on('tick', () => request.i);
  }
  globalThis.bus = bus;
} else if (mode === 'timer') {
  const retired = [];
  for (let i = 0; i < 10000; i++) retired.push({ i, rows: new Array(30).fill(i) });
  setInterval(() => retired.length, 1e6).unref();
} else if (mode === 'grow' || mode === 'steady') {
  const cache = new Map();
  globalThis.sessions = [];
  let n = 0;
  for (let round = 1; round <= 3; round++) {
    for (let i = 0; i < 8000; i++, n++) {
      const entry = { n, payload: new Array(30).fill(n) };
      const session = new Session(n);
      if (mode === 'grow') {
        cache.set('key' + n, entry);
        globalThis.sessions.push(session);
      }
    }
    v8.writeHeapSnapshot(`${file}-${round}.heapsnapshot`);
  }
  setTimeout(() => cache.size, 1e6).unref();
  process.exit(0);
} else if (mode === 'signal') {
  signalRounds(file);
  return;
} else if (mode !== 'flat') {
  throw new Error('mode: map, array, listener, timer, flat, grow or steady');
}
v8.writeHeapSnapshot(file);

// Three rounds of a growing cache; after each a SIGUSR2, the next once its snapshot is in dir.
function signalRounds(dir) {
  const fs = require('fs');
  const cache = new Map();
  const written = () => fs.readdirSync(dir).filter((f) => /^Heap\..*\.\d+\.heapsnapshot$/.test(f)).length;
  let round = 0;
  const next = () => {
    for (let i = 0; i < 20000; i++) cache.set(`key${round}.${i}`, { round, payload: new Array(30).fill(i) });
    round++;
    process.kill(process.pid, 'SIGUSR2');
    const wait = setInterval(() => {
      if (written() < round) return;
      clearInterval(wait);
      if (round < 3) next();
      else console.log(`title=${process.title} cache=${cache.size}`);
    }, 10);
  };
  next();
}
