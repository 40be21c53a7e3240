// node_stretch.js — long CPU-bound stretches: each tick clones a large object 20 times
// (deepClone, line 7), about 200 ms, then spins 3 ms in tailWork (line 8) to end it: one CPU
// sample per stretch, the last, would often name tailWork; all of them name deepClone.
// Five stretches, then exits.
'use strict';

function deepClone(o) { return JSON.parse(JSON.stringify(o)); }
function tailWork() { const t = Date.now(); while (Date.now() - t < 3); }

const big = { items: Array.from({ length: 20000 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'] })) };
let n = 0;
const iv = setInterval(() => {
  const t = Date.now();
  while (Date.now() - t < 200) deepClone(big);
  tailWork();
  if (++n === 5) clearInterval(iv);
}, 10);
