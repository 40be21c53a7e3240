// timers.js MODE PORTFILE — express. bad: every GET /watch starts a setInterval that is never
// cleared, holding the request's context (startWatch, line 15): Timeouts pile up. clean: the
// interval is cleared when the response finishes. (Once V8 inlines startWatch into the route,
// watchRoute at line 21, its sampling heap profiler names the route: it sees frames, not
// inlined functions.)
'use strict';
const express = require('express');
const serve = require('./serve');

const [mode, portFile] = process.argv.slice(2);
let checks = 0;

function check(ctx) { checks += ctx.samples.length > 0; }

function startWatch(req) {
  const ctx = { url: req.url, headers: { ...req.headers }, samples: new Array(64).fill(0) };
  return setInterval(() => check(ctx), 60000);
}

const app = express();
app.get('/watch', function watchRoute(req, res) {
  const t = startWatch(req);
  if (mode !== 'bad') res.on('finish', () => clearInterval(t));
  res.json({ watching: true, checks });
});
serve(require('http').createServer(app), portFile);
