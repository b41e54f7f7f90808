#!/usr/bin/env bash
# overlaps of the whole Debian 6.12 modules.alias (every bus, the default), end to end through
# the bundled CLI, beside `node -e 0` (the start-up floor), pci alone (`--bus pci`, the old
# default) and the whole file as JSON (every pair classified, every example). Medians of
# hyperfine runs, in one run so that the figures share the machine's load.
#
# PREVIOUS=REV (a git revision, built into a temporary directory) or PREVIOUS=FILE (a built
# flavourctl.js) adds that build's whole-file text and --json commands to the same run, and
# the ratios of this build's medians to its. Each build keeps its code cache in a directory of
# its own (a build removes other builds' caches from its directory), and then every flavourctl
# command runs through `env` alike.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f dist/flavourctl.js ]] || npm run build >/dev/null
dir=test/fixtures/modules/6.12.117+deb12-amd64
out=$(mktemp)
# flavourctl's caches (README "Caches": here the code cache) in the bench's own directory
FLAVOURCTL_INDEX_CACHE=$(mktemp -d)
export FLAVOURCTL_INDEX_CACHE
previous_dir=$(mktemp -d)
trap 'rm -rf "$out" "$FLAVOURCTL_INDEX_CACHE" "$previous_dir"' EXIT
run="node dist/flavourctl.js"
extra=()
if [[ -n "${PREVIOUS:-}" ]]; then
  previous=$PREVIOUS
  if [[ ! -f "$previous" ]]; then
    git archive "$PREVIOUS" | tar -x -C "$previous_dir"
    ln -s "$PWD/node_modules" "$previous_dir/node_modules"
    (cd "$previous_dir" && node scripts/build.mjs >/dev/null)
    previous=$previous_dir/dist/flavourctl.js
  fi
  mkdir "$previous_dir/cache" "$previous_dir/cache-now"
  run="env FLAVOURCTL_INDEX_CACHE=$previous_dir/cache-now node dist/flavourctl.js"
  before="env FLAVOURCTL_INDEX_CACHE=$previous_dir/cache node $previous"
  extra=("$before overlaps --modules $dir" "$before overlaps --modules $dir --json")
fi
hyperfine -N --warmup 2 --runs "${RUNS:-15}" --export-json "$out" \
  "node -e 0" \
  "$run overlaps --modules $dir" \
  "$run overlaps --modules $dir --bus pci" \
  "$run overlaps --modules $dir --json" \
  "${extra[@]}" >&2
node -e '
const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).results;
const ms = (x) => (x * 1000).toFixed(1);
for (const x of r) console.log(`${ms(x.median)} ms median (min ${ms(x.min)})  ${x.command}`);
console.log(`whole file minus node start-up: ${ms(r[1].median - r[0].median)} ms`);
console.log(`--json / text: ${(r[3].median / r[1].median).toFixed(2)}`);
if (r.length > 4) {
  console.log(`previous build --json / text: ${(r[5].median / r[4].median).toFixed(2)}`);
  console.log(`this build / previous: text ${(r[1].median / r[4].median).toFixed(2)}, --json ${(r[3].median / r[5].median).toFixed(2)}`);
}' "$out"
