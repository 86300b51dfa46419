#!/usr/bin/env python3
"""/usr/share/doc/vault/copyright for the Debian package (scripts/build-deb.sh): reads
`cargo metadata --format-version 1` on stdin, prints the machine-readable copyright file with
our licence and that of every crate linked into the vault binary."""
import json, sys
meta = json.load(sys.stdin)
pkgs = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
root = next(p["id"] for p in meta["packages"] if p["name"] == "vault" and p["source"] is None)
# What is linked into the binary: normal (not dev, not build) dependencies, minus
# proc-macros (they run in the compiler only).
seen, todo = set(), [root]
while todo:
    pid = todo.pop()
    if pid in seen:
        continue
    seen.add(pid)
    for d in nodes[pid]["deps"]:
        kinds = d["dep_kinds"]
        # (--filter-platform has already dropped other platforms' dependencies)
        normal = any(k["kind"] is None for k in kinds)
        proc = any("proc-macro" in t["kind"] for t in pkgs[d["pkg"]]["targets"])
        if normal and not proc:
            todo.append(d["pkg"])
print("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/")
print("Upstream-Name: vault")
print("Comment: /usr/bin/vault is a Rust program; it statically links the crates listed")
print(" below (name, version, licence as the crate declares it). Their full texts are in each")
print(" crate's source on crates.io. The Apache-2.0 text is in /usr/share/common-licenses/Apache-2.0.")
print()
print("Files: *")
print("Copyright: the vault authors")
print("License: MIT or Apache-2.0")
for pid in sorted(seen - {root}, key=lambda i: (pkgs[i]["name"], pkgs[i]["version"])):
    p = pkgs[pid]
    if p["source"] is None:
        continue  # our own workspace crates: the licence above
    lic = p.get("license") or ("see " + p["license_file"] if p.get("license_file") else "unknown")
    authors = ", ".join(p.get("authors") or []) or "the " + p["name"] + " authors"
    print()
    print("Files: (crate) %s %s" % (p["name"], p["version"]))
    print("Copyright: %s" % authors.replace("\n", " "))
    print("License: %s" % lic.replace(" OR ", " or ").replace(" AND ", " and ").replace("/", " or "))
