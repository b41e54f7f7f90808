#!/usr/bin/env bash
# overlaps of the whole Debian 6.12 modules.alias (pci and vfio_pci, the default), end to end
# through the bundled CLI, beside `node -e 0` (the start-up floor) and the pci-only grep of the
# same file (the cheapest possible read of it). Medians of hyperfine runs.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f dist/flavourctl.js ]] || npm run build >/dev/null
dir=test/fixtures/modules/6.12.117+deb12-amd64
hyperfine -N --warmup 2 --runs "${RUNS:-15}" --export-json /tmp/bench-overlaps.json \
  "node -e 0" \
  "node dist/flavourctl.js overlaps --modules $dir" \
  "node dist/flavourctl.js overlaps --modules $dir --json" >&2
node -e '
const r = require("/tmp/bench-overlaps.json").results;
for (const x of r) console.log(`${(x.median * 1000).toFixed(1)} ms median  ${x.command}`);
console.log(`overlaps minus node start-up: ${((r[1].median - r[0].median) * 1000).toFixed(1)} ms`);'
