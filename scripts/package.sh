#!/usr/bin/env bash
# The Debian package: dist/flavourctl_VERSION_all.deb, built with dpkg-deb from the bundle (npm run
# package; no network). The package's sources are packaging/deb/: a binary package made straight
# from the npm build, not a Debian source package (no debian/rules, no dpkg-buildpackage), hence
# not debian/. What goes where (docs/install.md "Install from the package"):
#
#   /usr/lib/flavourctl/flavourctl.js      the bundle, its #! naming Debian's /usr/bin/node
#   /usr/lib/flavourctl/package.json       says the bundle is CommonJS (as dist/package.json)
#   /usr/sbin/flavourctl                   a link to it: the path the udev rule and the docs name
#   /usr/lib/udev/rules.d/60-flavourctl.rules   written here by the bundle's own udev-rule
#   /etc/flavourctl/rules.d/               the saved rules' directory, owned by the package
#   /usr/share/man/man8/flavourctl.8.gz, man5/flavourctl-{rules,machine}.5.gz   from docs/
#   /usr/share/bash-completion/completions/flavourctl
#   /usr/share/doc/flavourctl/{copyright,changelog.gz}
#
# Needs dpkg-deb (dpkg) and gzip; the package's version is package.json's, and
# packaging/deb/changelog must have an entry for it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
src=packaging/deb

version=$(node -p 'require("./package.json").version')
[[ $version =~ ^[0-9][0-9A-Za-z.+~-]*$ ]] || { echo "package: package.json version '$version' is no Debian version" >&2; exit 1; }
changelog_version=$(sed -nE '1s/^flavourctl \(([^)]+)\) .*/\1/p' "$src/changelog")
if [[ $changelog_version != "$version" ]]; then
  echo "package: $src/changelog's first entry is '$changelog_version', package.json's version '$version': add an entry" >&2
  exit 1
fi
# Reproducible: every file's time is the changelog entry's (dpkg-deb also reads SOURCE_DATE_EPOCH).
SOURCE_DATE_EPOCH=$(date -d "$(sed -nE 's/^ -- .*>  (.*)$/\1/p' "$src/changelog" | head -n1)" +%s)
export SOURCE_DATE_EPOCH

node scripts/build.mjs

stage=$(mktemp -d "${TMPDIR:-/tmp}/flavourctl-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
chmod 755 "$stage"
umask 022
install -d "$stage/DEBIAN" "$stage/usr/lib/flavourctl" "$stage/usr/sbin" "$stage/usr/lib/udev/rules.d" \
  "$stage/etc/flavourctl/rules.d" "$stage/usr/share/doc/flavourctl"

# Debian's nodejs is /usr/bin/node; naming it spares a PATH search (sudo's, udev's empty one).
{
  echo "#!/usr/bin/node"
  tail -n +2 dist/flavourctl.js
} >"$stage/usr/lib/flavourctl/flavourctl.js"
head -n1 dist/flavourctl.js | grep -qx '#!/usr/bin/env node' || { echo "package: dist/flavourctl.js has another #! line" >&2; exit 1; }
chmod 755 "$stage/usr/lib/flavourctl/flavourctl.js"
install -m 644 dist/package.json "$stage/usr/lib/flavourctl/package.json"
ln -s ../lib/flavourctl/flavourctl.js "$stage/usr/sbin/flavourctl"

# The rule, by the command it is for, naming the installed paths (never this machine's node or
# checkout); no code cache written on this machine meanwhile.
FLAVOURCTL_INDEX_CACHE=off node "$stage/usr/lib/flavourctl/flavourctl.js" udev-rule \
  --node /usr/bin/node --command /usr/sbin/flavourctl \
  --output "$stage/usr/lib/udev/rules.d/60-flavourctl.rules" >/dev/null
grep -q 'RUN+="/usr/bin/node --jitless /usr/sbin/flavourctl hook"' \
  "$stage/usr/lib/udev/rules.d/60-flavourctl.rules" || { echo "package: the udev rule names other paths" >&2; exit 1; }

# The man pages and bash completion, made from the docs and the CLI's own help (scripts/man.ts,
# scripts/completion.ts); the pages are dated by the changelog entry, as every file is.
generated=$(mktemp -d "${TMPDIR:-/tmp}/flavourctl-man.XXXXXX")
trap 'rm -rf "$stage" "$generated"' EXIT
node --import tsx scripts/man.ts "$generated" "$(date -u -d "@$SOURCE_DATE_EPOCH" +%F)"
for page in "$generated"/*.[58]; do
  section=${page##*.}
  install -d "$stage/usr/share/man/man$section"
  gzip -9n <"$page" >"$stage/usr/share/man/man$section/$(basename "$page").gz"
done
node --import tsx scripts/completion.ts "$generated/flavourctl.bash"
install -D -m 644 "$generated/flavourctl.bash" "$stage/usr/share/bash-completion/completions/flavourctl"

# The Cockpit page (docs/cockpit.md), found by cockpit-ws in /usr/share/cockpit/flavourctl.
bash cockpit/install.sh "$stage"

install -m 644 "$src/copyright" "$stage/usr/share/doc/flavourctl/copyright"
# a native package's changelog is changelog.gz (Debian policy 12.7)
gzip -9n <"$src/changelog" >"$stage/usr/share/doc/flavourctl/changelog.gz"
install -m 755 "$src/postinst" "$src/postrm" "$stage/DEBIAN/"

installed_size=$(du -sk --apparent-size --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@INSTALLED_SIZE@/$installed_size/" "$src/control" >"$stage/DEBIAN/control"
(cd "$stage" && find usr etc -type f -exec md5sum {} + | LC_ALL=C sort -k2) >"$stage/DEBIAN/md5sums"
chmod 644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

deb=dist/flavourctl_${version}_all.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
