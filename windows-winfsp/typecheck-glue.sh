#!/bin/sh
# Type-checks (and lints) the cfg(windows) WinFsp glue of this crate on a
# Linux host, where it is otherwise never compiled. Nothing Windows is
# installed or linked: this proves the glue matches winfsp_wrs's API, not
# that it works. See README.md ("What has been built and run").
#
# How: a throwaway copy of the workspace in which
#   - the cfg(windows) gates of this crate are lifted,
#   - winfsp_wrs and winfsp_wrs_sys come from a patched copy of their
#     crates.io sources whose only change is C `long` = 32 bits, as on
#     Windows (bindgen's output otherwise uses the host's 64-bit `long`),
#   - then `cargo clippy -p vault-winfsp -D warnings` runs.
# With --run, also runs tests/glue.rs (the callbacks over a vault in
# memory) there; for that, winfsp_wrs's SecurityDescriptor::from_wstr (a
# Windows API call) is stubbed to an empty descriptor in the copy.
# Needs: cargo, python3, the crates in the lockfile (fetched if missing).
set -eu
run_tests=false
[ "${1:-}" = "--run" ] && run_tests=true

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

cd "$root"
cargo fetch --locked >/dev/null
mkdir -p "$work/ws" "$work/patch"
git ls-files -z | xargs -0 tar -cf - | tar -xf - -C "$work/ws"

# Where cargo unpacked the two binding crates.
cargo metadata --locked --format-version 1 | python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
for p in meta["packages"]:
    if p["name"] in ("winfsp_wrs", "winfsp_wrs_sys") and p["source"]:
        print(p["name"], os.path.dirname(p["manifest_path"]))
' | while read -r name dir; do
    cp -r "$dir" "$work/patch/$name"
done
for name in winfsp_wrs winfsp_wrs_sys; do
    [ -d "$work/patch/$name" ] || { echo "typecheck-glue: $name not in the lockfile" >&2; exit 1; }
done
# Windows' LLP64 widths (order matters: the long long forms first).
sed -i -e 's/::std::os::raw::c_ulonglong/u64/g' -e 's/::std::os::raw::c_longlong/i64/g' \
    -e 's/::std::os::raw::c_ulong/u32/g' -e 's/::std::os::raw::c_long/i32/g' \
    "$work/patch/winfsp_wrs_sys/src/gen.rs"

cd "$work/ws"
cat >>Cargo.toml <<TOML

[patch.crates-io]
winfsp_wrs = { path = "$work/patch/winfsp_wrs" }
winfsp_wrs_sys = { path = "$work/patch/winfsp_wrs_sys" }
TOML
# Windows-only dependencies become plain ones.
sed -i -e "/^\[target.'cfg(windows)'.dependencies\]/d" \
    -e "/^\[target.'cfg(windows)'.build-dependencies\]/d" windows-winfsp/Cargo.toml
sed -i -e 's/#\[cfg(windows)\]/#[cfg(all())]/' -e 's/#\[cfg(not(windows))\]/#[cfg(any())]/' \
    windows-winfsp/src/lib.rs windows-winfsp/src/main.rs

sed -i -e 's/^#!\[cfg(windows)\]/#![cfg(all())]/' windows-winfsp/tests/glue.rs

cargo clippy -p vault-winfsp --all-targets -- -D warnings -A clippy::non_minimal_cfg
echo "typecheck-glue: the WinFsp glue type-checks against winfsp_wrs (not compiled for Windows)"

if $run_tests; then
    python3 - "$work/patch/winfsp_wrs/src/security.rs" <<'PY'
import sys
path = sys.argv[1]
src = open(path).read()
head = "pub fn from_wstr(s: &U16CStr) -> Result<Self, String> {"
assert head in src, "winfsp_wrs changed: SecurityDescriptor::from_wstr not found"
stub = head + "\n        if cfg!(not(windows)) {\n            let _ = s;\n            return Ok(Self(Vec::new()));\n        }"
open(path, "w").write(src.replace(head, stub, 1))
PY
    # Only the test links: the binary calls WinFsp's DLL, which Linux has not.
    python3 - windows-winfsp/Cargo.toml <<'PY'
import sys
path = sys.argv[1]
src = open(path).read()
section = '[[bin]]\nname = "vault-winfsp"\npath = "src/main.rs"\n'
assert section in src, "windows-winfsp/Cargo.toml: [[bin]] section not found"
open(path, "w").write(src.replace(section, "", 1))
PY
    rm windows-winfsp/src/main.rs
    cargo test -p vault-winfsp --test glue
    echo "typecheck-glue: the WinFsp callbacks ran over a vault in memory on this host (no WinFsp involved)"
fi
