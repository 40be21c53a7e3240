// check_speedscope.js FILE SCHEMA TOTAL NAME... — validates a speedscope file against the schema
// the npm speedscope package publishes (file-format-schema.json), with ajv, then checks that the
// weights of all its profiles (one per thread) sum to TOTAL and that each NAME is a frame.
'use strict';
const fs = require('fs');
const Ajv = require('ajv');

const [file, schemaPath, total, ...names] = process.argv.slice(2);
const fail = (m) => { console.error(`check_speedscope: ${file}: ${m}`); process.exit(1); };
const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile({ ...schema, $ref: '#/definitions/FileFormat.File' });
if (!validate(doc)) fail(ajv.errorsText(validate.errors));
let sum = 0, stacks = 0;
for (const p of doc.profiles) {
  sum += p.weights.reduce((a, w) => a + w, 0);
  stacks += p.samples.length;
  if (p.samples.length !== p.weights.length) fail('samples and weights differ in length');
  for (const s of p.samples)
    for (const i of s)
      if (i < 0 || i >= doc.shared.frames.length) fail(`frame index ${i} out of range`);
}
if (sum !== Number(total)) fail(`weights sum to ${sum}, wanted ${total}`);
const frames = new Set(doc.shared.frames.map((f) => f.name));
for (const n of names) if (!frames.has(n)) fail(`no frame named '${n}'`);
console.log(`ok ${file}: ${doc.profiles.length} profiles, ${stacks} stacks`);
