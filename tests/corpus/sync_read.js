// sync_read.js MODE PORTFILE — express. bad: every GET /report reads a 32 MiB file with
// readFileSync on the loop (loadReport, line 16). clean: the file is read once, with a
// promise, before the server listens, and served from memory.
'use strict';
const fs = require('fs');
const os = require('os');
const express = require('express');
const serve = require('./serve');

const [mode, portFile] = process.argv.slice(2);
const file = `${os.tmpdir()}/loopscope-corpus-report-${process.pid}`;
fs.writeFileSync(file, Buffer.alloc(32 << 20, 7));
process.on('exit', () => fs.rmSync(file, { force: true }));
let cached = null;

function loadReport() { return fs.readFileSync(file); }

const app = express();
app.get('/report', (req, res) => {
  const data = mode === 'bad' ? loadReport() : cached;
  res.json({ bytes: data.length });
});
fs.promises.readFile(file).then((b) => { cached = b; serve(require('http').createServer(app), portFile); });
