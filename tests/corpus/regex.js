// regex.js MODE PORTFILE — plain http. bad: every GET /check tests a 22-character input against a
// regular expression that backtracks exponentially (validate, line 11). clean: the same check
// without nested quantifiers.
'use strict';
const http = require('http');
const serve = require('./serve');

const [mode, portFile] = process.argv.slice(2);
const input = `${'a'.repeat(22)}!`;

function validate(s) { return mode === 'bad' ? /^(a+)+$/.test(s) : /^a+$/.test(s); }

serve(http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ valid: validate(input) }));
}), portFile);
