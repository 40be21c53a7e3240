// node_cache.js MODE SECONDS — a Node.js service's cache of sessions, filled from a timer:
//   leak  a Map that is never evicted: the heap after GC grows without bound
//   lru   the same Map capped at 2000 entries, oldest first out: it warms up, then stays flat
// Short-lived garbage comes with every insert, as a request handler's would, so that V8 runs
// both scavenges and full collections.
'use strict';
const [mode, seconds] = process.argv.slice(2);
const cache = new Map();
let next = 0;
const until = Date.now() + 1000 * +seconds;

function handle() {
  for (let i = 0; i < 40; i++) {
    const id = next++;
    const garbage = JSON.stringify({ id, at: Date.now(), tags: ['a', 'b', 'c'] });
    cache.set(id, { id, payload: 'x'.repeat(1024) + id, size: garbage.length });
    if (mode === 'lru' && cache.size > 2000) cache.delete(cache.keys().next().value);
  }
  if (Date.now() < until) setTimeout(handle, 1);
}
handle();
