// node_gc.js OUT — garbage collections as Node itself sees them: a PerformanceObserver counts
// the 'gc' entries and their durations while the loop churns through short-lived objects for
// about 1.5 s; at the end a forced full GC (--expose-gc) and the heap used right after it, from
// v8.getHeapStatistics(). Writes {count, total_ms, used_after_last, others} to OUT for the test
// (others: the other size fields of the same reading, which the agent must not have read).
// The churn starts from the loop (setImmediate): the agent registers its GC callbacks at the
// loop's first poll, so both sides see the same collections.
'use strict';
const fs = require('fs');
const v8 = require('v8');
const { PerformanceObserver } = require('perf_hooks');

const out = process.argv[2];
let count = 0, total = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    count++;
    total += e.duration;
  }
}).observe({ entryTypes: ['gc'] });

let keep = [];
const until = Date.now() + 1500;
function churn() {
  for (let i = 0; i < 20000; i++) keep.push({ a: i, b: 'x' + i });
  if (keep.length > 200000) keep = [];
  if (Date.now() < until) return setImmediate(churn);
  keep = null;
  global.gc();
  const stats = v8.getHeapStatistics();
  const used = stats.used_heap_size;
  const others = ['total_heap_size', 'total_heap_size_executable', 'total_physical_size',
    'total_available_size', 'heap_size_limit', 'malloced_memory', 'external_memory'].map((k) => stats[k]);
  // Observer callbacks are delivered asynchronously: let the last ones arrive.
  setTimeout(() => fs.writeFileSync(out, JSON.stringify({ count, total_ms: total, used_after_last: used, others })), 100);
}
setImmediate(churn);
