#!/usr/bin/env bash
# Builds the Debian package vault_VERSION_ARCH.deb from a staged tree with dpkg-deb (no debhelper,
# no debian/ folder): the binary, man pages, shell completions, the mount(8) helper, the systemd
# user unit, the .desktop entry, the MIME type and /usr/share/doc/vault/copyright, which lists the
# licence of every crate compiled into the binary (from `cargo metadata`).
#
#   scripts/build-deb.sh BINARY [OUTDIR]     package an already built binary (CI: the test build's
#                                            target/debug/vault; fast gzip compression)
#   scripts/build-deb.sh --release [OUTDIR]  cargo build --release, strip, xz: a package to publish
#
# OUTDIR defaults to the current folder. Needs dpkg-deb, gzip, python3 and cargo.
set -euo pipefail
usage() { echo "usage: $0 BINARY [OUTDIR] | $0 --release [OUTDIR]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
root=$(cd "$(dirname "$0")/.." && pwd)
outdir=$(realpath -m "${2:-.}")
release=0
if [[ $1 == --release ]]; then
  release=1
  (cd "$root" && cargo build --release --locked --bin vault)
  binary="${CARGO_TARGET_DIR:-$root/target}/release/vault"
else
  [[ $1 != -* ]] || usage
  binary=$(realpath "$1")
fi
[[ -x $binary ]] || { echo "$0: $binary is not an executable" >&2; exit 1; }

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml")
[[ -n $version ]] || { echo "$0: no version in Cargo.toml" >&2; exit 1; }
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg="$stage/vault_${version}_${arch}"

# Files, with the modes Debian expects.
inst() { install -D -m "$1" "$2" "$pkg/$3"; }
inst 755 "$binary" usr/bin/vault
if ((release)); then strip --strip-unneeded "$pkg/usr/bin/vault"; fi
for page in "$root"/dist/man/*.1; do
  gzip -9n < "$page" > "$stage/$(basename "$page").gz"
  inst 644 "$stage/$(basename "$page").gz" "usr/share/man/man1/$(basename "$page").gz"
done
inst 644 "$root/dist/completions/vault.bash" usr/share/bash-completion/completions/vault
inst 644 "$root/dist/completions/_vault" usr/share/zsh/vendor-completions/_vault
inst 644 "$root/dist/completions/vault.fish" usr/share/fish/vendor_completions.d/vault.fish
# mount(8) looks for /sbin/mount.TYPE (as fuse3's own /sbin/mount.fuse3).
inst 755 "$root/mount-helpers/mount.vault" sbin/mount.fuse.vault
ln -s mount.fuse.vault "$pkg/sbin/mount.vault"
inst 644 "$root/mount-helpers/vault@.service" usr/lib/systemd/user/vault@.service
inst 644 "$root/dist/desktop/vault.desktop" usr/share/applications/vault.desktop
inst 644 "$root/dist/desktop/vault-mime.xml" usr/share/mime/packages/vault.xml
# (shared-mime-info and desktop-file-utils update their caches through dpkg file triggers.)

# copyright: our licence, then every bundled crate's.
mkdir -p "$pkg/usr/share/doc/vault"
host=$(rustc -vV | sed -n 's/^host: //p')
(cd "$root" && cargo metadata --format-version 1 --locked --offline --filter-platform "$host" 2>/dev/null ||
  cargo metadata --format-version 1 --locked --filter-platform "$host") | python3 "$root/scripts/deb-copyright.py" > "$pkg/usr/share/doc/vault/copyright"
chmod 644 "$pkg/usr/share/doc/vault/copyright"

mkdir -p "$pkg/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<EOF
Package: vault
Version: $version
Architecture: $arch
Maintainer: vault developers <vault@example.invalid>
Installed-Size: $size
Depends: fuse3, libc6 (>= 2.34), libgcc-s1
Suggests: xdg-utils, dbus-user-session
Section: utils
Priority: optional
Homepage: https://example.invalid/vault
Description: mount Cryptomator vaults from local folders, SFTP and WebDAV
 vault opens Cryptomator (format 8) vaults and mounts them as a drive with FUSE,
 with the encrypted files on a local folder, an SFTP server or WebDAV (Nextcloud).
 It lists a mounted vault in the file manager's sidebar, unlocks a vault on a
 double-click of its vault.cryptomator file, and ships a mount(8) helper
 (mount -t fuse.vault) and a systemd user unit.
EOF
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$pkg/DEBIAN/md5sums"
chmod 644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/md5sums"

if ((release)); then compress=(-Zxz); else compress=(-Zgzip -z1); fi
mkdir -p "$outdir"
dpkg-deb --root-owner-group "${compress[@]}" --build "$pkg" "$outdir/vault_${version}_${arch}.deb" >/dev/null
echo "$outdir/vault_${version}_${arch}.deb"
