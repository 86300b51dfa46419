"""Reads a vault with pycryptomator (an independent implementation) and
compares every node with a source tree: files by SHA-256, symlinks by target,
directories by presence. Password on stdin. Exit 0 when they match."""
import hashlib
import io
import os
import sys

from pycryptomator.cryptomator import Vault


def main():
    vault_dir, src = sys.argv[1], sys.argv[2]
    password = sys.stdin.readline().rstrip("\n")
    v = Vault(vault_dir, password)
    got = {}
    for root, dirs, files in v.walk("/"):
        for d in dirs:
            got[os.path.join(root, d)[1:]] = ("D",)
        for f in files:
            path = os.path.join(root, f)
            info = v.getInfo(path)
            if info.hasSym:
                got[path[1:]] = ("L", v.resolveSymlink(path, info.hasSym)[1])
            else:
                out = io.BytesIO()
                with open(info.contentsC9, "rb") as fh:
                    Vault._decryptf(v.pk, fh, out)
                got[path[1:]] = ("F", hashlib.sha256(out.getvalue()).hexdigest())
    want = {}
    for root, dirs, files in os.walk(src):
        rel = os.path.relpath(root, src)
        rel = "" if rel == "." else rel
        for name in dirs + files:
            full = os.path.join(root, name)
            key = os.path.join(rel, name)
            if os.path.islink(full):
                want[key] = ("L", os.readlink(full))
            elif os.path.isdir(full):
                want[key] = ("D",)
            else:
                with open(full, "rb") as fh:
                    want[key] = ("F", hashlib.sha256(fh.read()).hexdigest())
    bad = 0
    for key in sorted(set(got) | set(want)):
        if got.get(key) != want.get(key):
            bad += 1
            if bad <= 20:
                print(f"MISMATCH {key!r}: vault={got.get(key)} source={want.get(key)}")
    print(f"pycryptomator compared {len(want)} source nodes with {len(got)} vault nodes: {bad} mismatches")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
