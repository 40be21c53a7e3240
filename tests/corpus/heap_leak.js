// heap_leak.js MODE PORTFILE — express. bad: every POST /items keeps a copy of the request's
// items in a global array (keepItems, line 14): the JS heap grows after every GC. clean: the copy
// is summed and dropped.
'use strict';
const express = require('express');
const serve = require('./serve');

const [mode, portFile] = process.argv.slice(2);
const kept = [];
const app = express();
app.use(express.json({ limit: '1mb' }));
let total = 0;

app.post('/items', function keepItems(req, res) {
  const copy = [];
  for (const it of req.body.items) copy.push({ id: it.id, qty: it.qty, price: it.price, seen: Date.now(), note: `item ${it.id}` });
  if (mode === 'bad') kept.push(copy);
  else total += copy.length;
  res.json({ kept: kept.length, total });
});
serve(require('http').createServer(app), portFile);
