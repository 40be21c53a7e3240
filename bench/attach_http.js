// A plain node:http server for bench/attach_overhead.sh (TARGET=node): GET / answers a small
// JSON body built per request, on 127.0.0.1 only. No dependency, no thread-pool work: what attach
// costs such a server is its per-syscall hooks and its CPU samples.
//   node bench/attach_http.js PORT
'use strict';
const http = require('node:http');

const port = Number(process.argv[2]);
const users = Array.from({length: 20}, (_, i) => ({id: i, name: `user${i}`, active: i % 3 !== 0}));
http.createServer((req, res) => {
	const body = JSON.stringify({users: users.filter((u) => u.active), at: Date.now()});
	res.writeHead(200, {'content-type': 'application/json', 'content-length': Buffer.byteLength(body)});
	res.end(body);
}).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
