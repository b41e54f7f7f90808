#!/usr/bin/env bash
# npm run collection: the Ansible collection flavourctl.vfio (ansible/) built into
# dist/flavourctl-vfio-VERSION.tar.gz with Debian's ansible-core (ansible-galaxy), ready for
# `ansible-galaxy collection install`. Its version must be package.json's.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(node -p 'require("./package.json").version')
galaxy=$(sed -n 's/^version: *//p' ansible/galaxy.yml)
if [[ $galaxy != "$version" ]]; then
  echo "collection: ansible/galaxy.yml has version $galaxy, package.json $version: make them the same" >&2
  exit 1
fi
mkdir -p dist
ansible-galaxy collection build ansible --output-path dist --force >/dev/null
echo "dist/flavourctl-vfio-$version.tar.gz"
