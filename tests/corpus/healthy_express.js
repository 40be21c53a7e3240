// healthy_express.js MODE PORTFILE — express, nothing wrong: GET /hello answers a small JSON
// object. MODE is ignored.
'use strict';
const express = require('express');
const serve = require('./serve');

const portFile = process.argv[3];
const app = express();
app.get('/hello', (req, res) => res.json({ hello: 'world', at: Date.now() }));
serve(require('http').createServer(app), portFile);
