#!/usr/bin/env bash
# overlaps of the whole Debian 6.12 modules.alias (every bus, the default), end to end through
# the bundled CLI, beside `node -e 0` (the start-up floor), pci alone (`--bus pci`, the old
# default) and the whole file as JSON (every pair classified, every example). Medians of
# hyperfine runs, in one run so that the figures share the machine's load.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f dist/flavourctl.js ]] || npm run build >/dev/null
dir=test/fixtures/modules/6.12.117+deb12-amd64
out=$(mktemp)
# flavourctl's caches (README "Caches": here the code cache) in the bench's own directory
FLAVOURCTL_INDEX_CACHE=$(mktemp -d)
export FLAVOURCTL_INDEX_CACHE
trap 'rm -rf "$out" "$FLAVOURCTL_INDEX_CACHE"' EXIT
hyperfine -N --warmup 2 --runs "${RUNS:-15}" --export-json "$out" \
  "node -e 0" \
  "node dist/flavourctl.js overlaps --modules $dir" \
  "node dist/flavourctl.js overlaps --modules $dir --bus pci" \
  "node dist/flavourctl.js overlaps --modules $dir --json" >&2
node -e '
const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).results;
const ms = (x) => (x * 1000).toFixed(1);
for (const x of r) console.log(`${ms(x.median)} ms median (min ${ms(x.min)})  ${x.command}`);
console.log(`whole file minus node start-up: ${ms(r[1].median - r[0].median)} ms`);' "$out"
