"""Reads a whole vault with pycryptomator and writes {path: entry} as JSON.

Usage: pyc_read.py VAULT_DIR PASSWORD_FILE OUT_JSON
Symlink targets come from the decrypted symlink.c9r (pycryptomator's own
display of them is not verbatim, spec section 16).
"""
import hashlib
import io
import json
import sys

from pycryptomator.cryptomator import Vault

vault_dir, password_file, out_path = sys.argv[1:4]
password = open(password_file, encoding="utf-8").read()
v = Vault(vault_dir, password=password)
out = {}


def decrypt(path):
    buf = io.BytesIO()
    with open(path, "rb") as f:
        Vault._decryptf(v.pk, f, buf)
    return buf.getvalue()


for root, dirs, files in v.walk("/"):
    base = root.rstrip("/")
    for d in dirs:
        out[base + "/" + d] = {"type": "dir"}
    for f in files:
        p = base + "/" + f
        info = v.getInfo(p)
        if info.hasSym:
            out[p] = {"type": "symlink", "target": decrypt(info.hasSym).decode("utf-8")}
        else:
            data = decrypt(info.contentsC9)
            out[p] = {"type": "file", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

with open(out_path, "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False)
