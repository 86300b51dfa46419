"""pycryptomator (an independent implementation) reads a vault straight from the
server's folder on disk. Password on stdin.

  pyc.py tree VAULT_DIR OUT_JSON          every node: {path: ["D"] | ["F", sha256] | ["L", target]}
  pyc.py paths VAULT_DIR OUT_JSON PATH..  {path: {"node": realPathName, "content": realDir}}

Symlink targets come from the decrypted symlink.c9r (pycryptomator's own
display of them is not verbatim)."""
import hashlib
import io
import json
import sys

from pycryptomator.cryptomator import Vault


def decrypt(v, path):
    buf = io.BytesIO()
    with open(path, "rb") as f:
        Vault._decryptf(v.pk, f, buf)
    return buf.getvalue()


def main():
    mode, vault_dir, out_path = sys.argv[1:4]
    password = sys.stdin.readline().rstrip("\n")
    v = Vault(vault_dir, password=password)
    out = {}
    if mode == "tree":
        for root, dirs, files in v.walk("/"):
            base = root.rstrip("/")
            for d in dirs:
                out[base + "/" + d] = ["D"]
            for f in files:
                p = base + "/" + f
                info = v.getInfo(p)
                if info.hasSym:
                    out[p] = ["L", decrypt(v, info.hasSym).decode("utf-8")]
                else:
                    out[p] = ["F", hashlib.sha256(decrypt(v, info.contentsC9)).hexdigest()]
    else:
        for p in sys.argv[4:]:
            info = v.getInfo(p)
            assert info.exists, p
            out[p] = {"node": info.realPathName, "content": info.realDir}
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)


main()
