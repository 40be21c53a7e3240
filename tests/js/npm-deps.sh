#!/usr/bin/env bash
# Installs from the npm registry into BUILD/npm, once (a second run with them present does
# nothing): the independent readers the format checks use (pprof-format, speedscope's schema,
# ajv) and the frameworks the Node.js tests build their apps on (fastify).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=$1/npm
if [ -f "$dest/node_modules/.loopscope-ok" ] && cmp -s "$here/package.json" "$dest/package.json"; then
	exit 0
fi
command -v npm >/dev/null || { echo "npm-deps: npm is missing; install Node.js 20 with npm" >&2; exit 1; }
mkdir -p "$dest"
cp "$here/package.json" "$dest/package.json"
(cd "$dest" && npm install --no-audit --no-fund --no-package-lock --silent >/dev/null)
touch "$dest/node_modules/.loopscope-ok"
