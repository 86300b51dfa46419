"""Creates and fills a vault with pycryptomator; writes what it stored as JSON.

Usage: pyc_create.py VAULT_DIR PASSWORD_FILE OUT_JSON
"""
import contextlib
import hashlib
import io
import json
import os
import sys

from pycryptomator.cryptomator import Vault, init_vault

vault_dir, password_file, out_path = sys.argv[1:4]
password = open(password_file, encoding="utf-8").read()
with contextlib.redirect_stdout(io.StringIO()):
    init_vault(vault_dir, password)
v = Vault(vault_dir, password=password)
exp = {}


def mkdir(path):
    v.mkdir(path)
    parts = path.strip("/").split("/")
    for i in range(1, len(parts) + 1):
        exp["/" + "/".join(parts[:i])] = {"type": "dir"}


def put(path, data):
    v.encryptFile(io.BytesIO(data), path)
    exp[path] = {"type": "file", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def ln(target, path):
    v.ln(target, path)
    exp[path] = {"type": "symlink", "target": target}


mkdir("/docs")
put("/docs/hello.txt", b"hello world\n")
put("/empty.txt", b"")
put("/chunk-exact.bin", bytes(range(256)) * 128)
put("/multi.bin", os.urandom(100000))
put("/docs/" + "long-name-" * 18 + ".txt", b"a long name\n")
put("/Caf\u00e9 \u65e5\u672c \U0001F600.txt", b"unicode\n")
put("/Cre\u0300me-nfd.txt", b"stored in NFD\n")
mkdir("/a/b/c")
put("/a/b/c/deep.txt", b"deep\n")
mkdir("/empty-dir")
ln("hello.txt", "/docs/link")
ln("/absolute/target", "/abs-link")

with open(out_path, "w", encoding="utf-8") as f:
    json.dump(exp, f, ensure_ascii=False)
