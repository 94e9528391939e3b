#!/usr/bin/env python3
"""Independent model of what a manifest of DIR must contain, for the integration suites.

Walks DIR with os.lstat (skipping .git and .vrift directories and, unless told otherwise, the
files the security filter excludes), hashes files with the `b3sum` program, and prints the same
JSON shape as `vrift manifest show --json` (entries only, sorted by path bytes). `compare` mode
diffs that against vrift's JSON and exits 1 with the first differences.
"""
import fnmatch
import json
import os
import stat
import subprocess
import sys

SECRET = [".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "id_rsa*",
          "id_dsa*", "id_ecdsa*", "id_ed25519*", ".netrc", ".npmrc", ".pypirc", ".pgpass", "*.kdbx",
          "credentials.json", "service-account*.json", ".htpasswd"]


def b3(paths):
    out = {}
    for i in range(0, len(paths), 500):
        chunk = paths[i:i + 500]
        res = subprocess.run(["b3sum", "--no-names", "--"] + chunk, check=True, capture_output=True)
        for p, line in zip(chunk, res.stdout.decode().splitlines()):
            out[p] = line.strip()
    return out


def model(root, prefix="", secret_filter=True, skip=()):
    entries, files = [], []
    rootb = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(rootb):
        dirnames[:] = [d for d in dirnames if d not in (b".git", b".vrift")]
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, rootb)
            if rel in skip:
                continue
            st = os.lstat(full)
            e = {"path": rel, "mode": "%04o" % stat.S_IMODE(st.st_mode), "mtime_ns": st.st_mtime_ns}
            if stat.S_ISDIR(st.st_mode):
                e.update(type="dir", size=st.st_size)
            elif stat.S_ISLNK(st.st_mode):
                t = os.readlink(full)
                e.update(type="symlink", size=len(t), target=t)
            elif stat.S_ISREG(st.st_mode):
                base = name.decode("utf-8", "surrogateescape")
                if secret_filter and any(fnmatch.fnmatchcase(base, p) for p in SECRET):
                    continue
                e.update(type="file", size=st.st_size)
                files.append(full)
            else:
                continue
            entries.append(e)
    hashes = b3([f.decode("utf-8", "surrogateescape") for f in files]) if files else {}
    for e in entries:
        if e["type"] == "file":
            e["hash"] = hashes[os.path.join(rootb, e["path"]).decode("utf-8", "surrogateescape")]
    pre = os.fsencode(prefix) if prefix else b""
    for e in entries:
        e["path"] = (pre + b"/" + e["path"] if pre else e["path"])
    entries.sort(key=lambda e: e["path"])
    for e in entries:
        e["path"] = e["path"].decode("utf-8", "surrogateescape")
        if "target" in e:
            e["target"] = e["target"].decode("utf-8", "surrogateescape")
    return entries


def main():
    mode, root, vrift_json = sys.argv[1], sys.argv[2], sys.argv[3]
    skip = tuple(os.fsencode(s) for s in sys.argv[4:])
    want = model(root, skip=skip)
    with open(vrift_json) as f:
        got = json.load(f)["entries"]
    keys = ("path", "type", "mode", "size", "mtime_ns", "hash", "target")
    norm = lambda es: [{k: e.get(k) for k in keys} for e in es]
    want, got = norm(want), norm(got)
    if want == got:
        print(f"oracle: {len(want)} entries identical")
        return 0
    print(f"oracle: vrift has {len(got)} entries, the model {len(want)}")
    gi = {e["path"]: e for e in got}
    wi = {e["path"]: e for e in want}
    shown = 0
    for p in sorted(set(gi) | set(wi)):
        if gi.get(p) != wi.get(p) and shown < 10:
            print(f"  {p!r}: vrift={gi.get(p)} model={wi.get(p)}")
            shown += 1
    if [e["path"] for e in got] != sorted(e["path"] for e in got):
        print("  vrift's entries are not sorted")
    return 1


if __name__ == "__main__":
    sys.exit(main())
