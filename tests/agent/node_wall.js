// node_wall.js — a Node.js loop whose timer callback blocks off CPU: Atomics.wait for 200 ms, five
// times (1 s in all), in a function named waitOnAtomics. With --wall the agent must put that
// second under waitOnAtomics (its JS frame named from its function), not under idle time.
'use strict';
const cell = new Int32Array(new SharedArrayBuffer(4));
let n = 0;
function waitOnAtomics() {
  Atomics.wait(cell, 0, 0, 200);
}
function tick() {
  waitOnAtomics();
  if (++n < 5) setTimeout(tick, 50);
}
setTimeout(tick, 50);
