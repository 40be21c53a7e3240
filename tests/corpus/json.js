// json.js MODE PORTFILE — express. bad: every GET /orders deep-copies a 12,000-order object with a
// JSON round trip on the loop (roundTrip, line 11), 10-20 ms of CPU each. clean: the handler
// answers from the object it has.
'use strict';
const express = require('express');
const serve = require('./serve');

const [mode, portFile] = process.argv.slice(2);
const orders = Array.from({ length: 12000 }, (_, i) => ({ id: i, customer: `c${i}`, lines: [{ sku: 'a', qty: 1 }, { sku: 'b', qty: 2 }] }));

function roundTrip(o) { return JSON.parse(JSON.stringify(o)); }

const app = express();
app.get('/orders', (req, res) => {
  const list = mode === 'bad' ? roundTrip(orders) : orders;
  res.json({ count: list.length, first: list[0].id });
});
serve(require('http').createServer(app), portFile);
