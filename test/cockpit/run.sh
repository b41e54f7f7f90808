#!/usr/bin/env bash
# The Cockpit page's browser test (issue 20): Debian's cockpit-ws and cockpit-bridge serve the
# built page (dist/cockpit/flavourctl) on loopback, one unauthenticated --local-session, no
# system cockpit service; Debian's chromium, headless, driven by playwright-core
# (test/cockpit/page.e2e.ts), uses it on the demo machine. flavourctl is the built bundle behind
# a wrapper on cockpit-ws's PATH, its simulated machines' state in a temporary directory.
# Screenshots and the accessibility report go to dist/test-output/cockpit/ (the artefacts), two
# screenshots to docs/images/. Needs root for apt-get when a package is missing; run after
# `npm run build` (scripts/ci.sh runs it after npm test).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

packages=(cockpit-ws cockpit-bridge chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  echo "cockpit test: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 \
    "${missing[@]}" >/dev/null
fi
[[ -f dist/cockpit/flavourctl/index.html && -f dist/flavourctl.js ]] || { echo "cockpit test: run npm run build first" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/flavourctl-cockpit.XXXXXX")
ws_pid=
cleanup() {
  if [[ -n $ws_pid ]]; then kill "$ws_pid" 2>/dev/null || true; wait "$ws_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/share/cockpit" "$work/config/cockpit" "$work/bin" "$work/state" "$work/home"
ln -s "$repo/dist/cockpit/flavourctl" "$work/share/cockpit/flavourctl"
# the wrapper the page finds on PATH: the bundle, its machines' state in $work (never ~/.local)
cat >"$work/bin/flavourctl" <<EOF
#!/bin/sh
XDG_STATE_HOME='$work/state' FLAVOURCTL_INDEX_CACHE=off exec node '$repo/dist/flavourctl.js' "\$@"
EOF
chmod 755 "$work/bin/flavourctl"

# a free port on loopback, then cockpit-ws on it (one session per process: this test's own)
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
PATH="$work/bin:$PATH" HOME="$work/home" XDG_DATA_DIRS="$work/share:/usr/share" XDG_CONFIG_DIRS="$work/config" \
  /usr/lib/cockpit/cockpit-ws --local-session=cockpit-bridge --address=127.0.0.1 --port="$port" --no-tls \
  >"$work/cockpit-ws.log" 2>&1 &
ws_pid=$!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break # listening (curl is not in a fresh Debian)
  kill -0 "$ws_pid" 2>/dev/null || { cat "$work/cockpit-ws.log" >&2; exit 1; }
  sleep 0.2
done

COCKPIT_URL="http://127.0.0.1:$port/cockpit/@localhost/flavourctl/index.html" \
  FLAVOURCTL_WRAPPER="$work/bin/flavourctl" BROWSER_PROFILE="$work/chromium" \
  node --import tsx --test-reporter=tap test/cockpit/page.e2e.ts || { status=$?; cat "$work/cockpit-ws.log" >&2; exit "$status"; }
