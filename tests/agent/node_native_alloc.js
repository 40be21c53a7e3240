// node_native_alloc.js — native allocations made from JavaScript: keepBuffers (line 6) allocates
// 50 Buffers of 64 KiB (outside V8's heap, through node's allocator: malloc) every 10 ms, 40
// times, and keeps them. Under --heap sampled their stacks go through the JS frames that asked.
'use strict';
const keep = [];
function keepBuffers() { for (let i = 0; i < 50; i++) keep.push(Buffer.allocUnsafeSlow(65536)); }
let n = 0;
const iv = setInterval(() => {
  keepBuffers();
  if (++n === 40) clearInterval(iv);
}, 10);
