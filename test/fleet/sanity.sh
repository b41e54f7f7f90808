#!/usr/bin/env bash
# ansible-test sanity on the flavourctl.vfio collection, offline (test/fleet/run.sh runs it).
# ansible-test puts each test that has Python requirements (ansible-doc, import, pep8, pylint,
# runtime-metadata, validate-modules, yamllint) in a virtual environment of its own and fills
# it with pip from PyPI, which cannot be reached here (nor on CI). So: each such environment
# is made by hand where ansible-test looks for it, with Debian's Python and its packages
# (--system-site-packages: python3-yaml, python3-jinja2, python3-voluptuous, yamllint,
# pycodestyle), and marked as made; the tests whose requirements Debian 12 cannot meet are
# named and skipped (pylint: ansible-test 2.14 pins pylint 2.15 and its plugins need it).
# Usage: bash test/fleet/sanity.sh WORKDIR
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$1
skipped=(pylint)
mkdir -p "$work/home" "$work/ansible_collections/flavourctl"
cp -r ansible "$work/ansible_collections/flavourctl/vfio"
cd "$work/ansible_collections/flavourctl/vfio"
# ansible-test keeps its environments under ~/.ansible/test; Debian's python3.11, not another on PATH
export HOME=$work/home PATH=/usr/sbin:/usr/bin:/sbin:/bin
skip=()
for test in "${skipped[@]}"; do skip+=(--skip-test "$test"); done
sanity() { ansible-test sanity --python 3.11 --color no "${skip[@]}" "$@"; }

# each test makes the environment it wants and fails at pip: replace each unfinished one (no
# marker.txt) by Debian's Python with its system packages, and run again
finish_venvs() {
  local venv
  for venv in "$HOME"/.ansible/test/venv/*/*/*; do
    [[ -e $venv/marker.txt ]] && continue
    rm -rf "$venv"
    /usr/bin/python3.11 -m venv --system-site-packages --without-pip "$venv"
    echo '[]' >"$venv/meta.install.json"
    "$venv/bin/python" -c 'import json, yaml; print(json.dumps(hasattr(yaml, "CLoader")))' >"$venv/meta.yaml.json"
    touch "$venv/marker.txt"
  done
}
echo "sanity: ansible-test sanity (skipped: ${skipped[*]})"
for _ in 1 2 3 4 5 6 7 8; do
  status=0
  sanity >"$work/sanity.log" 2>&1 || status=$?
  grep -q 'does not have pip available' "$work/sanity.log" || break
  finish_venvs
done
grep -v 'locale\|Reviewing previous' "$work/sanity.log" | sed 's/^/  /'
exit "$status"
