// check_retained.mjs — an independent computation of retained sizes: DevTools' own heap snapshot
// engine (npm heap-snapshot-toolkit) reads SNAPSHOT and prints {"id": retained size} for the
// node ids given, for tests/heap/test_heapsnap.c to hold loopscope's figures against.
//   node check_retained.mjs TOOLKIT_DIR SNAPSHOT ID...
// (TOOLKIT_DIR: the package's directory; an ES module is not found through NODE_PATH.)
import { createReadStream } from 'node:fs'
import { join } from 'node:path'

const [dir, file, ...ids] = process.argv.slice(2)
const { parse } = await import(join(dir, 'index.js'))
const s = await parse(createReadStream(file))
const want = new Set(ids.map(Number))
const out = {}
for (let i = 0; i < s.nodeCount; i++) {
  const id = s.nodes.getValue(i * s.nodeFieldCount + s.nodeIdOffset)
  if (want.has(id)) out[id] = s.retainedSizes[i]
}
console.log(JSON.stringify(out))
