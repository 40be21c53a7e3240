// node_timers.js OUT [REQUESTS] — a timer leak on fastify: GET /watch starts a setInterval per
// request that is never cleared (startWatch, line 12), and a client in this process sends
// REQUESTS (default 3000), two at a time. Then, after a window and a half with nothing new,
// writes {requests, timeouts} to OUT as JSON, timeouts being Node's own count of active
// Timeouts (process.getActiveResourcesInfo()), and exits (process.exit: the intervals never end).
'use strict';
const fs = require('fs');
const http = require('http');
const fastify = require('fastify')();

let requests = 0;
function startWatch(id) {
  return setInterval(() => { if (id < 0) console.log(id); }, 60000);
}

fastify.get('/watch', async () => {
  requests++;
  startWatch(requests);
  return { watching: requests };
});

function get(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/watch' }, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject);
  });
}

const total = Number(process.argv[3] || 3000);
fastify.listen({ port: 0, host: '127.0.0.1' }).then(async () => {
  const port = fastify.server.address().port;
  for (let i = 0; i < total / 2; i++)
    await Promise.all([get(port), get(port)]);
  await new Promise((r) => setTimeout(r, 1500));
  const timeouts = process.getActiveResourcesInfo().filter((t) => t === 'Timeout').length;
  fs.writeFileSync(process.argv[2], JSON.stringify({ requests, timeouts }));
  process.exit(0);
});
