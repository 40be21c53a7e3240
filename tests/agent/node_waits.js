// node_waits.js MODE — long synchronous calls on the loop that are not all blocking:
//   kernel   readKernel (line 12): 20 reads of 64 MiB from /dev/zero, each a few ms of CPU in
//            the kernel (run alone: on CPU all along; pinned beside a busier task on one CPU
//            at a lower priority: mostly runnable, waiting for it: CPU contention)
//   fifo     readFifo (line 16): 5 opens of a FIFO whose writer comes 20 ms later: the thread
//            sleeps in the kernel (blocked)
//   forever  readKernel every 100 ms until killed (for attach)
'use strict';
const fs = require('fs');
const { spawn, execFileSync } = require('child_process');

function readKernel(fd, buf) {
  for (let i = 0; i < 20; i++) fs.readSync(fd, buf, 0, buf.length, null);
}

function readFifo(path) {
  for (let i = 0; i < 5; i++) {
    spawn('/bin/sh', ['-c', `sleep 0.02; echo x > ${path}`], { stdio: 'ignore' });
    const fd = fs.openSync(path, 'r');
    fs.readSync(fd, Buffer.alloc(8));
    fs.closeSync(fd);
  }
}

const mode = process.argv[2];
const zero = fs.openSync('/dev/zero', 'r');
// filled, so its pages are mapped before the reads: a read into untouched pages takes their
// faults too (on this VM 15 µs a page: 250 ms for 64 MiB, on the CPU), not the few ms of
// memset in the kernel the cases are about
const big = Buffer.alloc(64 << 20, 1);
if (mode === 'fifo') {
  const path = `${require('os').tmpdir()}/loopscope-fifo-${process.pid}`;
  fs.rmSync(path, { force: true });
  execFileSync('/usr/bin/mkfifo', [path]);
  setTimeout(() => { readFifo(path); fs.rmSync(path, { force: true }); }, 20);
} else if (mode === 'forever') {
  setInterval(() => readKernel(zero, big), 100);
  console.log('up');
} else {
  setTimeout(() => readKernel(zero, big), 20);
}
