#!/usr/bin/env bash
# aliases --source over the whole linux-source-6.12 tree (test/analysis/fetch-source.sh), beside
# `grep -rl` of the same tree for MODULE_DEVICE_TABLE(pci (reading every file once: the floor).
# Medians of a few runs.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f dist/flavourctl.js ]] || npm run build >/dev/null
tree=$(bash test/analysis/fetch-source.sh)
config=test/fixtures/modules/6.12.117+deb12-amd64/config.gz
hyperfine -N -i --warmup 1 --runs "${RUNS:-3}" --export-json /tmp/bench-aliases.json \
  "grep -rlsF --include=*.c MODULE_DEVICE_TABLE(pci $tree" \
  "node dist/flavourctl.js aliases --source $tree --config $config" >&2
node -e '
const r = require("/tmp/bench-aliases.json").results;
for (const x of r) console.log(`${x.median.toFixed(2)} s median  ${x.command}`);
console.log(`ratio aliases/grep: ${(r[1].median / r[0].median).toFixed(1)}x`);'
