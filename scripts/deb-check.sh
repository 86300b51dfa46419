#!/usr/bin/env bash
# CI check of the Debian package (scripts/test.sh runs it last, so no test sees /usr/bin/vault):
# package BINARY with scripts/build-deb.sh, `apt-get install ./vault_*.deb` (it depends on fuse3),
# run `vault --version` and `mount -t fuse.vault` (a fixture vault through the packaged mount
# helper: mount, read a file, unmount) from the package, then `dpkg -P vault` must remove every
# path `dpkg -L vault` listed (folders other packages share excepted). Root, Debian 12.
#   scripts/deb-check.sh BINARY
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 BINARY" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
binary=$(realpath "$1")
fail() { echo "deb-check: $*" >&2; exit 1; }
if dpkg-query -W -f='${Status}' vault 2>/dev/null | grep -q installed; then
  fail "a vault package is installed already; not touching it"
fi
work=$(mktemp -d)
mnt="$work/mnt"
cleanup() {
  mountpoint -q "$mnt" 2>/dev/null && fusermount3 -uz "$mnt"
  dpkg-query -W vault >/dev/null 2>&1 && dpkg -P vault >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

deb=$(bash "$root/scripts/build-deb.sh" "$binary" "$work")
dpkg-deb -f "$deb" Depends | grep -qw fuse3 || fail "the package does not depend on fuse3"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "$deb" >/dev/null
dpkg-query -W -f='${Status}' fuse3 | grep -q 'install ok installed' || fail "fuse3 is not installed"

# From the package only: a clean PATH, no VAULT_BIN.
pkgenv=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$work")
version=$("${pkgenv[@]}" vault --version)
[[ $version == "vault "* ]] || fail "vault --version printed: $version"
[[ $("${pkgenv[@]}" sh -c 'command -v vault') == /usr/bin/vault ]] || fail "vault is not /usr/bin/vault"

cp -r "$root/tests/fixtures/vault-v8/vault" "$work/vault"
cp "$root/tests/fixtures/vault-v8/password.txt" "$work/password" && chmod 600 "$work/password"
mkdir "$mnt"
"${pkgenv[@]}" mount -t fuse.vault "$work/vault" "$mnt" -o "password_file=$work/password"
mountpoint -q "$mnt" || fail "mount -t fuse.vault did not mount"
want=$(python3 -c 'import json,sys; print(next(e["sha256"] for e in json.load(open(sys.argv[1]))["entries"] if e["path"]=="/Café-nfc.txt"))' "$root/tests/fixtures/vault-v8/expected.json")
got=$(sha256sum "$mnt/Café-nfc.txt" | cut -d' ' -f1)
[[ $got == "$want" ]] || fail "read through the mount: sha256 $got, expected $want"
"${pkgenv[@]}" umount "$mnt"
mountpoint -q "$mnt" && fail "umount left the vault mounted"

mapfile -t listed < <(dpkg -L vault)
dpkg -P vault >/dev/null
left=()
for p in "${listed[@]}"; do
  [[ -e $p || -L $p ]] || continue
  # A folder that stays must be another package's too, or hold files of others.
  if [[ -d $p ]] && { dpkg -S "$p" >/dev/null 2>&1 || [[ -n $(ls -A "$p") ]]; }; then continue; fi
  left+=("$p")
done
((${#left[@]} == 0)) || fail "dpkg -P left: ${left[*]}"
echo "deb-check: ok ($version; $(basename "$deb"))"
