// node_sync_read.js FILE SECONDS OUT — the readFileSync pitfall in Node: an HTTP handler that reads
// a 16 MiB file synchronously, driven for SECONDS by a client in a process of its own, then writes
// Node's own event-loop utilization (perf_hooks) to OUT as JSON for the test to compare.
'use strict';
const http = require('http');
const fs = require('fs');
const { performance } = require('perf_hooks');
const { spawn } = require('child_process');

if (process.argv[2] === 'client') {
  const port = +process.argv[3], until = Date.now() + 1000 * +process.argv[4];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const one = () => {
    if (Date.now() > until) return;
    http.get({ host: '127.0.0.1', port, path: '/video/info', agent }, (res) => {
      res.resume();
      res.on('end', one);
    }).on('error', () => setTimeout(one, 10));
  };
  one();
  one();
  setTimeout(() => process.exit(0), 1000 * +process.argv[4] + 200);
} else {
  const [file, seconds, out] = process.argv.slice(2);
  fs.writeFileSync(file, Buffer.alloc(16 << 20, 7));
  let served = 0;
  function handleVideo(req, res) {
    const data = fs.readFileSync(file); // the pitfall
    served++;
    res.end(JSON.stringify({ bytes: data.length }));
  }
  const server = http.createServer(handleVideo);
  server.listen(0, '127.0.0.1', () => {
    const client = spawn(process.execPath, [__filename, 'client', server.address().port, seconds],
      { stdio: 'inherit' });
    client.on('exit', () => {
      server.close();
      server.closeAllConnections();
      const elu = performance.eventLoopUtilization();
      fs.writeFileSync(out, JSON.stringify({ elu: elu.utilization, served }));
      fs.unlinkSync(file);
    });
  });
}
