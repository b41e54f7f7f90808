#!/usr/bin/env bash
# Installs the built Cockpit page (dist/cockpit/flavourctl, made by `npm run build`) under
# DESTDIR/usr/share/cockpit/flavourctl, as the Debian package has it; scripts/package.sh calls
# it with its staging directory. Files 644, directories 755; nothing else is written.
#   bash cockpit/install.sh DESTDIR
set -euo pipefail
dest=${1:?usage: cockpit/install.sh DESTDIR}
repo=$(cd "$(dirname "$0")/.." && pwd)
page="$repo/dist/cockpit/flavourctl"
files=(manifest.json index.html flavourctl.js flavourctl.css)
for file in "${files[@]}"; do
  [[ -f $page/$file ]] || { echo "cockpit/install.sh: $page/$file missing: run npm run build" >&2; exit 1; }
done
install -d -m 755 "$dest/usr/share/cockpit/flavourctl"
for file in "${files[@]}"; do install -m 644 "$page/$file" "$dest/usr/share/cockpit/flavourctl/$file"; done
