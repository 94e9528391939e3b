#!/usr/bin/env bash
# The shim on a phantom projection, driven through `vrift run` with real programs: cat, ls -la,
# find, stat, readlink, python3 imports, node requires on a real npm tree, gcc reading headers,
# a multi-threaded reader, fork+exec, vfork, a signal handler, getdents64, *at calls, errno,
# close_range, and the daemon killed mid-run. Every check compares the projection with a
# physical copy of the same tree, and the projection is phantom (the files are gone from disk),
# so a check passes only when the shim served it.
source "$(dirname "$0")/lib.sh"
export VRIFT_RUNTIME_DIR="$T/run" VRIFT_VDIR_DIR="$T/vdir"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
NODE=$(command -v node || true)
NPM_TREE=""
for d in /usr/lib/node_modules/npm/node_modules /usr/share/nodejs; do
  [ -d "$d/semver" ] && { NPM_TREE=$d; break; }
done

# --- the tree: text, symlinks, a Python package of 200 modules, C headers, an npm tree -------
P="$T/phys"
mkdir -p "$P/docs/deep/er" "$P/empty" "$P/include/sys" "$P/pylib" "$P/src"
printf 'alpha\n' >"$P/docs/a.txt"
printf 'beta %.0s' {1..2000} >"$P/docs/deep/er/b.txt"
printf '\x00\x01binary\xff' >"$P/docs/bin.dat"
: >"$P/docs/zero"
printf '#!/bin/sh\necho run\n' >"$P/src/run.sh"
chmod 0750 "$P/src/run.sh"
chmod 0600 "$P/docs/a.txt"
ln -s a.txt "$P/docs/link"
ln -s docs/deep "$P/deeplink"
ln -s ../include "$P/src/inc"
# 200 Python modules in 10 packages, each importing its predecessor and reading a data file.
for p in $(seq 0 9); do
  mkdir -p "$P/pylib/pkg$p"
  echo "from pkg$p.m0 import V as V0" >"$P/pylib/pkg$p/__init__.py"
  for m in $(seq 0 19); do
    if [ "$m" -eq 0 ]; then
      echo "V = $p * 1000" >"$P/pylib/pkg$p/m$m.py"
    else
      printf 'from pkg%s.m%s import V as PREV\nV = PREV + %s\n' "$p" $((m - 1)) "$m" >"$P/pylib/pkg$p/m$m.py"
    fi
  done
done
printf '{"answer": 42}\n' >"$P/pylib/data.json"
cat >"$P/pylib/main.py" <<'EOF'
import importlib, json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
mods = [importlib.import_module(f"pkg{p}.m{m}") for p in range(10) for m in range(20)]
assert all(m.__file__.startswith(here) for m in mods), "imported from elsewhere"
print(len(mods), sum(m.V for m in mods), json.load(open(os.path.join(here, "data.json")))["answer"])
print(sorted(os.listdir(os.path.join(here, "pkg3")))[:5], os.path.getsize(os.path.join(here, "main.py")))
EOF
cat >"$P/include/api.h" <<'EOF'
#pragma once
#include "sys/types2.h"
#include <stddef.h>
typedef struct { vr_u32 n; size_t len; } vr_thing;
static inline vr_u32 vr_twice(vr_u32 x) { return 2 * x; }
EOF
printf '#pragma once\ntypedef unsigned int vr_u32;\n' >"$P/include/sys/types2.h"
cat >"$P/src/main.c" <<'EOF'
#include "api.h"
#include "inc/api.h"
int main(void) { vr_thing t = {vr_twice(21), 0}; return (int)t.n - 42; }
EOF
if [ -n "$NPM_TREE" ]; then
  mkdir -p "$P/node_modules"
  for pkg in semver lru-cache ms debug ini abbrev isexe; do
    [ -d "$NPM_TREE/$pkg" ] && cp -a "$NPM_TREE/$pkg" "$P/node_modules/"
  done
fi
# A shared object, as a Node addon or a Python extension module is: loaded with dlopen, whose
# loader opens files past the shim.
mkdir -p "$P/lib"
printf 'int vr_answer(void) { return 42; }\n' >"$T/answer.c"
gcc -shared -fPIC -o "$P/lib/libanswer.so" "$T/answer.c" || not_ok "building the shared object"
# A directory with enough entries to outgrow one block: a projected directory reports the size
# its original had (the manifest records it), not a constant.
mkdir -p "$P/big"
for i in $(seq 1 300); do : >"$P/big/an-entry-with-a-rather-long-name-to-grow-its-directory-$i"; done
find "$P" -exec touch -h -d '2024-03-01 12:34:56.123456789' {} +
cp -a "$P" "$T/proj"
J="$T/proj"
# (the copy's directory sizes are its own: ext4 packs entries by insertion order, and under load
# the two trees' big directories were seen to differ; the projection reports the copy's)
big_size=$(stat -c %s "$J/big")

"$VRIFT" ingest "$J" --mode phantom -o "$T/proj.manifest" >/dev/null
check "phantom ingest removed the files" test ! -e "$J/docs/a.txt" -a ! -e "$J/pylib/main.py"
# Without the shim the projection is empty: the checks below can only pass through it.
check "without vrift run a projected file is missing" test ! -e "$J/docs/deep/er/b.txt"

R=("$VRIFT" run --manifest "$T/proj.manifest" --)
in_both() { # in_both CMD... : run CMD in the physical tree and in the projection; same output
  local want got   # (with each tree's own path replaced by ROOT)
  want=$(cd "$P" && "$@" 2>&1 | sed "s#$P#ROOT#g")
  got=$(cd "$J" && "${R[@]}" "$@" 2>&1 | sed "s#$J#ROOT#g")
  if [ "$want" == "$got" ]; then ok "same output: $*"; else
    not_ok "different output: $*"; diff <(echo "$want") <(echo "$got") | head -10
  fi
}

# --- coreutils ----------------------------------------------------------------------------
in_both cat docs/a.txt docs/deep/er/b.txt docs/bin.dat docs/zero docs/link deeplink/er/b.txt
in_both sh -c 'find . -path ./node_modules -prune -o -print | sort'
in_both sh -c 'find . -type f -newer docs/zero -o -type l | sort'
in_both sh -c 'find node_modules -name "*.js" | sort | head -50'
# (the projection root's own metadata is the physical directory's, so ".." of a top-level
# directory differs: list directories one level down)
in_both ls -la --time-style=+%s.%N docs docs/deep docs/deep/er include/sys
in_both ls -laL --time-style=+%s.%N deeplink/er src/inc/sys
in_both stat -c '%h %Y %F' deeplink/.. src/inc/sys/.. deeplink/er/../../docs
in_both ls -lR --time-style=+%s.%N docs include src
in_both stat -c '%n %s %a %F %h %Y %y %U' docs/a.txt docs docs/link deeplink src/run.sh empty include
in_both stat -L -c '%n %s %a %F' docs/link deeplink src/inc
in_both readlink docs/link deeplink src/inc
in_both readlink -f docs/link deeplink/er src/inc/sys
in_both du -s --apparent-size --block-size=1 docs
check "the big directory outgrew one block" test "$(stat -c %s "$P/big")" -gt 4096 -a "$big_size" -gt 4096
in_both stat -c '%n %s %b %h' docs docs/deep
check_eq "a projected directory has its original's size, and blocks to match" \
  "$big_size $((big_size / 512)) 2" "$(cd "$J" && "${R[@]}" stat -c '%s %b %h' big)"
check_eq "du --apparent-size of it" "$(printf '%s\tbig' "$big_size")" \
  "$(cd "$J" && "${R[@]}" du -s --apparent-size --block-size=1 big)"
in_both sh -c 'find . -path ./node_modules -prune -o -type d -size +4k -print | sort'
in_both sh -c 'ls -la big | sed -n 4,6p'
check_eq "ls -la shows that size for ." "$big_size" "$(cd "$J" && "${R[@]}" sh -c 'ls -la big' | awk '$NF == "." {print $5}')"
in_both sh -c 'test -e docs/a.txt && test -x src/run.sh && test ! -x docs/a.txt && test -d deeplink && test ! -e docs/nope && echo tests-ok'
in_both sh -c 'cd deeplink/er && pwd -P && cat b.txt | wc -c && cd ../../src/inc && ls'
in_both cmp docs/deep/er/b.txt deeplink/er/b.txt
in_both sh -c 'tar -cf - --sort=name --owner=0 --group=0 docs include src | md5sum'
in_both wc -c docs/a.txt docs/deep/er/b.txt docs/bin.dat
ino=$(cd "$J" && "${R[@]}" stat -c %i docs/a.txt docs/deep/er/b.txt docs | sort -u | wc -l)
check_eq "distinct inode numbers" 3 "$ino"
again=$(cd "$J" && "${R[@]}" sh -c 'stat -c %i docs/a.txt; stat -c %i docs/a.txt' | sort -u | wc -l)
check_eq "stable inode numbers" 1 "$again"
err=$(cd "$J" && "${R[@]}" cat docs/a.txt 2>&1 >/dev/null)
check_eq "the shim prints nothing on stderr" "" "$err"
out=$(cd "$J" && "${R[@]}" stat docs/missing 2>&1)
check_contains "a missing file is ENOENT" "No such file or directory" "$out"

# --- python, gcc, node --------------------------------------------------------------------
in_both "$PY" -B pylib/main.py
in_both env PYTHONPATH=pylib "$PY" -B -c 'import pkg9.m19 as m; print(m.V)'
in_both "$PY" -B -c 'import os; print(sorted(os.listdir("pylib/pkg0"))[:3], len(os.listdir("pylib")))'
out=$(cd "$J" && "${R[@]}" env -u PYTHONDONTWRITEBYTECODE "$PY" pylib/main.py 2>&1 &&
  "${R[@]}" env -u PYTHONDONTWRITEBYTECODE "$PY" pylib/main.py 2>&1)
check_contains "python writes __pycache__ into the skeleton and reads it back" "200 " "$out"
check "the bytecode landed physically" test -d "$J/pylib/pkg0/__pycache__"
out=$(cd "$J" && "${R[@]}" "$PY" -B -c 'import os; print(sorted(os.listdir("pylib/pkg0"))[:2], os.path.exists("pylib/pkg0/m0.py"))')
check_eq "listings join the manifest and what was written" "['__init__.py', '__pycache__'] True" "$out"
in_both gcc -fsyntax-only -Wall -Iinclude src/main.c
in_both gcc -E -P -Iinclude src/main.c
check "gcc without the shim cannot find the headers" bash -c "cd '$J' && ! gcc -fsyntax-only -Iinclude src/main.c 2>/dev/null"
out=$(cd "$J" && "${R[@]}" sh -c 'gcc -Iinclude -o "$1" src/main.c && "$1" && echo built' _ "$T/a.out" 2>&1)
check_eq "gcc compiles against projected headers" "built" "$out"
if [ -n "$NPM_TREE" ] && [ -n "$NODE" ]; then
  in_both "$NODE" -e 'const s=require("semver"); const ms=require("ms"); console.log(s.valid("1.2.3"), s.satisfies("1.5.0","^1.2"), ms("2h"), require.resolve("semver").replace(process.cwd(),"."))'
  in_both "$NODE" -e 'const fs=require("fs"); console.log(fs.readdirSync("node_modules").sort().join(","), fs.statSync("node_modules/semver/package.json").size, fs.realpathSync("node_modules/semver").replace(process.cwd(),"."))'
else
  not_ok "node and an npm tree are needed (node: '$NODE', tree: '$NPM_TREE')"
fi

# --- the situations LESSONS.md names --------------------------------------------------------
gcc -O2 -pthread -o "$T/probe" "$SRC_DIR/tests/shim/probe.c" || not_ok "building the probe"
PR="$T/probe"
in_both "$PR" threads 8 20 docs/a.txt docs/deep/er/b.txt deeplink/er/b.txt pylib/main.py include/api.h
in_both "$PR" signal docs/deep/er/b.txt
in_both "$PR" vfork docs/link
in_both "$PR" forkexec deeplink/er/b.txt
in_both "$PR" errno docs/a.txt
in_both "$PR" closerange docs/deep/er/b.txt
in_both "$PR" at docs/deep/er b.txt
in_both "$PR" at deeplink er/b.txt
in_both "$PR" getdents docs
in_both "$PY" -c 'import subprocess; print(subprocess.run(["cat", "docs/a.txt"], capture_output=True).stdout)'
in_both "$PR" vforkclose docs/deep/er/b.txt
# fstat of a projected file's descriptor is answered from the shim's table: a descriptor closed
# inside libc (fclose, freopen) or through syscall() and reused for another file (of the same
# size, on the store's device) describes that file, not the blob.
head -c "$(stat -c %s "$P/docs/a.txt")" /dev/zero >"$T/same-size-as-a"
in_both "$PR" stalefile docs/a.txt "$T/same-size-as-a"
in_both "$PR" isatty docs/a.txt
in_both "$PR" closefrom docs/a.txt
in_both "$PR" rawclose docs/a.txt "$T/same-size-as-a"
in_both "$PR" vforkopen docs/a.txt
in_both "$PR" rewind docs
in_both "$PY" -c 'import ctypes; print(ctypes.CDLL("./lib/libanswer.so").vr_answer())'
# File system questions about a projected file (df, stat -f, a file watcher)
in_both stat -f -c '%T %S %l' docs/a.txt docs/link deeplink/er/b.txt docs
in_both "$PY" -c 'import os; print(os.statvfs("docs/a.txt").f_namemax, os.pathconf("docs/a.txt", "PC_NAME_MAX"))'
in_both "$PR" inotify docs deeplink deeplink/er docs/missing
out=$(cd "$J" && "${R[@]}" "$PR" inotify docs/a.txt docs/link 2>&1)
check_eq "a watch on a phantom file is ENOENT, never on its shared blob" \
  "$(printf 'docs/a.txt: No such file or directory\ndocs/link: No such file or directory')" "$out"
# glibc's own directory readers: nftw/ftw, glob(3) and scandirat (fts is not covered: docs/shim.md)
for flags in none phys depth,chdir phys,depth,chdir,mount action,chdir; do
  in_both sh -c 'for d in docs deeplink src include empty; do "$1" walk "$d" "$2"; done | sort' _ "$PR" "$flags"
done
in_both sh -c '"$1" walk "$PWD/docs" phys | sort' _ "$PR"
# followed links: a directory reached twice (docs/deep and deeplink) is walked once
in_both sh -c '"$1" walk . none | grep -c "^D .*/er "' _ "$PR"
in_both sh -c '"$1" walk docs/ depth | sort' _ "$PR" # the start's trailing slash is dropped
# a link loop in the walk: glibc stops with -1 (ELOOP), and so must the shim's walker
for t in "$P" "$J"; do ln -s loopy "$t/docs/loopy"; done
in_both sh -c '"$1" walk docs none | grep "^~"' _ "$PR" # (which entries came first is readdir order)
rm -f "$P/docs/loopy" "$J/docs/loopy"
in_both sh -c 'cd docs && "$1" walk ../src chdir | sort' _ "$PR"
in_both "$PR" glob 'docs/*' 'docs/*/*/*' '*/a.txt'
in_both sh -c '"$1" glob "$PWD/docs/d*/e?/*.txt"' _ "$PR"
in_both "$PR" scandirat docs deep/er
in_both "$PR" scandirat . docs
in_both "$PY" -c 'import ctypes, os; print(ctypes.CDLL(os.path.abspath("lib/libanswer.so")).vr_answer())'
in_both "$PR" rewindnew docs/deep
in_both "$PR" rewindkeep docs
# Symlinks the program makes in a projected directory to projected files: in a phantom
# projection the kernel finds their targets missing; the shim follows them
for t in "$P" "$J"; do
  ln -s a.txt "$t/docs/made-link"
  ln -s "$t/docs/deep/er/b.txt" "$t/docs/made-abs"
  ln -s made-link "$t/docs/made-chain"
done
in_both cat docs/made-link docs/made-abs docs/made-chain
in_both stat -L -c '%n %s %F %Y' docs/made-link docs/made-abs docs/made-chain
in_both stat -c '%n %F' docs/made-link
in_both "$PY" -c 'import os; print(open("docs/made-chain").read(), os.path.getsize("docs/made-abs"), os.path.isfile("docs/made-link"))'
rm -f "$P"/docs/made-* "$J"/docs/made-*
# A projected file's descriptor is its blob's, shared by every file with that content: metadata
# changes through it must not reach the store (EROFS until the write path exists).
out=$(cd "$J" && "${R[@]}" "$PR" fdmeta docs/a.txt 2>&1)
check_eq "fchmod, fchown, futimens, fsetxattr on a projected file's fd are refused" \
  "fchmod=30 fchown=30 futimens=30 fsetxattr=30 syscall=30 utimensat=30 mode=$(stat -c %a "$P/docs/a.txt")" "$out"
check_eq "every blob is still 0444" "" "$(find "$VR_THE_SOURCE/blake3" -type f ! -perm 0444)"
check_eq "and still passes its fingerprint check" "" "$("$VRIFT" doctor 2>&1 | grep -i -E 'suspect|mismatch' || true)"
# Outside every projection the shim changes nothing (the regressions a review found): exec from
# a small stack, execvp of a script without "#!", a ".." path with a trailing slash, an fd
# number reused after fclose, nftw changing directory behind the shim's back.
O="$T/outside"
mkdir -p "$O/tree/sub"
printf 'echo no-shebang\n' >"$O/ns.sh"
chmod +x "$O/ns.sh"
printf '%s' 0123456789abcdefghijklmnopqrstuvwxy >"$O/tree/b.txt"
printf '%s' 0123456789 >"$O/tree/sub/c.txt"
cp "$O/tree/b.txt" "$O/tree/a.txt"
in_outside() { # in_outside CMD...: the same output with and without vrift run
  local want got
  want=$(cd "$J" && "$@" 2>&1)
  got=$(cd "$J" && "${R[@]}" "$@" 2>&1)
  if [ "$want" == "$got" ]; then ok "outside, unchanged: $*"; else
    not_ok "outside, changed: $*"; diff <(echo "$want") <(echo "$got") | head -5
  fi
}
in_outside "$PR" smallstack x
in_outside "$PR" execvp ns.sh ../outside
in_outside sh -c "stat -c %F '$T/../${T##*/}/outside/ns.sh/' 2>&1; stat -c %F '$O/../outside/tree/' 2>&1"
in_outside "$PR" stalefd docs "$O/tree" a.txt
in_outside "$PR" nftw docs "$O/tree"
# dlopen still sees the program as its caller: "$ORIGIN" in the name is the program's directory
cat >"$T/dl.c" <<'EOF'
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char** argv) {
  void* h = argc > 1 ? dlopen(argv[1], RTLD_NOW) : 0;
  int (*f)(void) = h ? (int (*)(void))dlsym(h, "vr_answer") : 0;
  printf("%s\n", f ? (f() == 42 ? "ok" : "wrong") : dlerror());
  return 0;
}
EOF
{ gcc -o "$O/dl" "$T/dl.c" -ldl && gcc -shared -fPIC -o "$O/libplug.so" "$T/answer.c"; } || not_ok "building dl"
in_outside "$O/dl" '$ORIGIN/libplug.so'
in_outside "$O/dl" "$O/libplug.so"
in_both sh -c 'cat docs/a.txt | sh -c "cat - docs/link"'
# Executing a projected script: its interpreter gets the projected path (execve, PATH search).
in_both ./src/run.sh
in_both sh -c 'PATH="$PWD/src:$PATH" run.sh; PATH="$PWD/src:$PATH" exec run.sh'
in_both "$PY" -c 'import subprocess, os; print(subprocess.run(["run.sh"], env=dict(os.environ, PATH="src:/usr/bin:/bin"), capture_output=True).stdout)'
in_both "$PR" execvp run.sh src
# posix_spawn reaches the kernel from inside glibc: GNU make starts a simple recipe line with it.
printf 'all:\n\tsrc/run.sh\n\t./src/run.sh a b\n' >"$T/spawn.mk"
in_both make -s -f "$T/spawn.mk"
in_both "$PY" -c 'import os; p = os.posix_spawn("src/run.sh", ["run.sh"], os.environ); print(os.waitpid(p, 0)[1])'
in_both "$PY" -c 'import os; os.environ["PATH"] = "src:/usr/bin:/bin"; p = os.posix_spawnp("run.sh", ["run.sh"], os.environ); print(os.waitpid(p, 0)[1])'
in_both "$PY" -c '
import os
try: os.posix_spawn("docs/nope", ["x"], os.environ)
except OSError as e: print(e.strerror)'
if [ -x "$P/node_modules/semver/bin/semver.js" ]; then
  in_both node_modules/semver/bin/semver.js -r '^1.2' 1.2.3 1.5.0 2.0.0
fi

# --- zero-config: `vrift run -- CMD` inside a project, ingested transiently ------------------
Z="$T/zproj"
mkdir -p "$Z/src/lib" "$Z/node_modules/dep"
printf '{"name": "z"}\n' >"$Z/package.json"
for i in $(seq 1 50); do printf 'module %s\n' "$i" >"$Z/src/lib/m$i.js"; done
printf 'dep\n' >"$Z/node_modules/dep/index.js"
err=$(cd "$Z/src" && "$VRIFT" -v run -- cat lib/m7.js 2>&1 >"$T/z.out")
check_eq "zero-config: runs from a subdirectory of the project" "module 7" "$(cat "$T/z.out")"
check_contains "zero-config: finds the root by package.json" "project $Z (package.json)" "$err"
check "zero-config: the transient manifest stays out of the project's files" test -f "$Z/.vrift/run.manifest"
# ... and out of git's sight: .vrift/ ignores itself, the project's .gitignore is not touched.
G="$T/zgit"
mkdir -p "$G"
printf '{"name": "g"}\n' >"$G/package.json"
git -C "$G" init -q
(cd "$G" && "$VRIFT" run -- true)
check_eq "zero-config: git status shows the project's files, not .vrift/" "?? package.json" \
  "$(git -C "$G" status --porcelain --untracked-files=all)"
# The run right after the first walk is not walked: the daemon has checked, on a thread of its
# own, what that walk changed (the root, by creating .vrift/; every file it linked into the store)
# and the run waited for it (docs/run.md, "Zero-config").
err=$(cd "$Z" && "$VRIFT" -v run -- true 2>&1)
check_contains "zero-config: the run after the first walk is not walked" "not walked" "$err"
touch "$Z/src" # an event (a directory's attributes): the next run walks, but reads nothing
err=$(cd "$Z" && "$VRIFT" -v run -- true 2>&1)
check_contains "zero-config: a repeated walk reads nothing again" "52 files, 52 unchanged" "$err"
printf 'module 7, longer now\n' >"$Z/src/lib/m7.js"
out=$(cd "$Z" && "$VRIFT" run -- stat -c %s src/lib/m7.js)
check_eq "zero-config: a change is in the next run's projection" 21 "$out"
out=$(cd "$Z" && "$VRIFT" run -- sh -c 'echo "$VRIFT_PROJECTIONS" | cut -f1')
check_eq "zero-config: projected at the project root" "$Z" "$out"
# An unchanged project is not walked again: the daemon has watched it since a walk and checked
# every file against the manifest (docs/run.md, "Zero-config"). Runs 0.2 s apart: a ctime this
# close to a walk proves nothing (SkeletonWatch::kCtimeMarginNs).
zrun() { sleep 0.2; (cd "$Z" && "$VRIFT" -v run -- "$@" 2>"$T/z.err"); }
zrun true
zrun stat -c %s src/lib/m7.js >"$T/z.out"
check_contains "zero-config: an unchanged project is not walked" "not walked" "$(cat "$T/z.err")"
check_eq "zero-config: and is projected as it is" 21 "$(cat "$T/z.out")"
printf 'module 7, and changed again\n' >"$Z/src/lib/m7.js"
zrun stat -c %s src/lib/m7.js >"$T/z.out"
check "zero-config: a change since makes the next run walk" grep -q "52 files" "$T/z.err"
check_eq "zero-config: which projects the change" 28 "$(cat "$T/z.out")"
# The walk linked the changed file into the store, which set its ctime: the daemon reads it
# rather than refusing the tree, so the very next run is not walked again.
zrun true
check_contains "zero-config: the run after a walk is not walked again" "not walked" "$(cat "$T/z.err")"
zrun true
check_contains "zero-config: then unchanged again" "not walked" "$(cat "$T/z.err")"
# Saved in place (the same inode, which the store shares): the blob of the old bytes is moved
# aside as the next run walks, which is the user's edit, not damage: nothing on stderr.
printf 'module 5, saved in place\n' >"$Z/src/lib/m5.js"
sleep 0.2
err=$(cd "$Z" && "$VRIFT" run -- cat src/lib/m5.js 2>&1 >"$T/z.out")
check_eq "zero-config: an edit in place prints nothing without -v" "" "$err"
check_eq "zero-config: and is projected" "module 5, saved in place" "$(cat "$T/z.out")"
zrun true
check_contains "zero-config: and the next run is not walked" "not walked" "$(cat "$T/z.err")"
# make in a zero-config project (solid, the default): each run ingests the previous build's
# objects, and the next build removes and rewrites them (as and ld unlink their output first),
# then checks their times. Before the stale map, the rewrite failed (EROFS: the removed object
# looked like a phantom file) and, within one run, make saw the manifest's old times.
M="$T/mproj"
mkdir -p "$M/src"
printf '#include <stdio.h>\n#include "util.h"\nint main(void) { printf("%%d\\n", util()); return 0; }\n' >"$M/src/main.c"
printf 'int util(void);\n' >"$M/src/util.h"
util() { printf '#include "util.h"\nint util(void) { return %s; }\n' "$1" >"$M/src/util.c"; }
util 41
printf 'app: src/main.o src/util.o\n\t$(CC) -o $@ $^\nsrc/%%.o: src/%%.c src/util.h\n\t$(CC) -c -o $@ $<\n' >"$M/Makefile"
(cd "$M" && "$VRIFT" init >/dev/null 2>&1)
mrun() { (cd "$M" && "$VRIFT" run -- "$@" 2>&1); }
check_eq "zero-config make: the first build" 41 "$(mrun make -s && mrun ./app)"
sleep 0.1
util 42
check_eq "zero-config make: a rebuild over the ingested objects" 42 "$(mrun make -s && mrun ./app)"
sleep 0.1
check_eq "zero-config make: an edit and two builds in one run" "43|make: 'app' is up to date." \
  "$(mrun sh -c 'sleep 0.1; printf "#include \"util.h\"\nint util(void) { return 43; }\n" >src/util.c
    make -s && ./app && make' | tr '\n' '|' | sed 's/|$//')"
# A change made outside the session while a program runs in it (an editor beside a dev server):
# the daemon's watch of the tree sees it and marks the entry stale, so the program asks the disk.
# One file saved in place (the store's inode: the VDir's size would be the old one), one saved
# by a rename (a new inode: the blob, and the VDir, would still be the old bytes).
Z3="$T/zproj3"
mkdir -p "$Z3/src"
printf '{"name": "z3"}\n' >"$Z3/package.json"
printf 'one\n' >"$Z3/src/inplace.txt"; printf 'two\n' >"$Z3/src/renamed.txt"
(cd "$Z3" && "$VRIFT" run -- sh -c 'while [ ! -e go ]; do sleep 0.05; done; sleep 0.5
  stat -c %s src/inplace.txt; cat src/inplace.txt src/renamed.txt' >"$T/z3.out" 2>&1) &
z3=$!
sleep 1
printf 'one, saved in place\n' >"$Z3/src/inplace.txt"
printf 'two, saved by a rename\n' >"$Z3/src/renamed.new" && mv "$Z3/src/renamed.new" "$Z3/src/renamed.txt"
touch "$Z3/go"
wait "$z3"
check_eq "a change made outside the session is seen by the program running in it" \
  "20|one, saved in place|two, saved by a rename" "$(tr '\n' '|' <"$T/z3.out" | sed 's/|$//')"
# The save in place went to the store's inode (outside the shim, nothing copies it): the next
# run's walk finds the blob changed, puts it aside and stores the new bytes.
sleep 0.2
check_eq "and the next run ingests it" "one, saved in place" "$(cd "$Z3" && "$VRIFT" run -- cat src/inplace.txt 2>&1)"
check "the store is sound again" store_is_sound
# A copy of a project whose files the store already has (a fresh checkout): its first walk
# replaces each tier1 file (node_modules) with a link to the blob, whose mode and mtime it then
# has; the daemon reads those and vouches for the tree, and the next run walks nothing.
Z2="$T/zproj2"
mkdir -p "$Z2/node_modules"
printf '{"name": "z2"}\n' >"$Z2/package.json"
cp -r "$Z/node_modules/dep" "$Z2/node_modules/dep"
printf 'index\n' >"$Z2/index.js"
sleep 0.2
err=$(cd "$Z2" && "$VRIFT" -v run -- cat node_modules/dep/index.js 2>&1 >"$T/z.out")
check_eq "zero-config, a copy: projected" "dep" "$(cat "$T/z.out")"
check_eq "zero-config, a copy: its tier1 file became the store's blob" \
  "$(stat -c %i "$Z/node_modules/dep/index.js") 444" "$(stat -c '%i %a' "$Z2/node_modules/dep/index.js")"
err=$(cd "$Z2" && "$VRIFT" -v run -- true 2>&1)
check_contains "zero-config, a copy: the next run is not walked" "not walked" "$err"
printf 'new\n' >"$Z/src/lib/new.js"
zrun cat src/lib/new.js >"$T/z.out"
check "zero-config: a new file makes the next run walk" grep -q "53 files" "$T/z.err"
check_eq "zero-config: and is in its projection" "new" "$(cat "$T/z.out")"
zrun true
zrun sh -c 'echo x >>src/lib/m8.js' # CMD changes the project: the next run walks
zrun stat -c %s src/lib/m8.js >"$T/z.out"
check "zero-config: a change made by CMD makes the next run walk" grep -q "53 files" "$T/z.err"
check_eq "zero-config: and projects it" 11 "$(cat "$T/z.out")"
echo garbage >"$Z/.vrift/run.manifest" # what the daemon cannot open: the walk rewrites it
zrun cat src/lib/m7.js >"$T/z.out"
check_eq "zero-config: a damaged manifest of an earlier run is walked over" \
  "module 7, and changed again" "$(cat "$T/z.out")"
# The session of a project watched and unchanged lingers longer than others (10 minutes; here
# 60 s against the suites' 0.5 s, the daemon's test hooks), so that a run a while after the last
# one walks nothing either; once the project changed, it lingers as others do.
"$VRIFT" daemon stop >/dev/null 2>&1
VRIFT_DAEMON_LINGER_MS=500 VRIFT_DAEMON_WATCHED_LINGER_MS=60000 "$VRIFT" daemon start >/dev/null 2>&1 ||
  not_ok "starting a daemon with short lingers"
zrun true
zrun true
sleep 1.5
zrun true
check_contains "zero-config: a watched, unchanged project's session outlives the others' linger" \
  "not walked" "$(cat "$T/z.err")"
printf 'touched\n' >"$Z/src/lib/m9.js"
sleep 1.5
sessions=$("$VRIFT" daemon status --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["sessions"])')
check_eq "zero-config: a changed project's session lingers as others do" 0 "$sessions"
# A daemon that cannot watch trees (an older vrift; VRIFT_DAEMON_CAPABILITIES: its test hook):
# every run walks, as before.
"$VRIFT" daemon stop >/dev/null 2>&1
VRIFT_DAEMON_CAPABILITIES=0 "$VRIFT" daemon start >/dev/null 2>&1 || not_ok "starting a capability-less daemon"
zrun true
zrun true
zrun cat src/lib/m7.js >"$T/z.out"
check "older daemon: zero-config walks every run" grep -q "53 files, 53 unchanged" "$T/z.err"
check_eq "older daemon: and projects the project" "module 7, and changed again" "$(cat "$T/z.out")"
"$VRIFT" daemon stop >/dev/null 2>&1
# Two zero-config runs of one project walking at once: run A's walk begins, the project changes
# (here f.js becomes executable), run B's walk begins and sees the change, B writes its manifest,
# then A writes its own over it. B's time must not vouch for A's manifest: f.js's ctime is older
# than B's walk (which had no new bytes to link), so the daemon would only compare its type and
# size, and every later run would project A's f.js, not executable (docs/run.md, "Zero-config").
# Played with the protocol client: the daemon takes a walk's time only for the manifest that
# walk produced (SESSION_OPEN's id).
TC=${VRIFT_TESTCLIENT:?}
ZR="$T/zrace"
mkdir -p "$ZR/src"
printf '{"name": "r"}\n' >"$ZR/package.json"
printf 'aaaa\n' >"$ZR/src/f.js"
sock=$("$VRIFT" daemon start 2>&1 | sed -n 's/.*socket \(.*\))$/\1/p')
(cd "$ZR" && "$VRIFT" run -- true) || not_ok "zero-config race: run A"
ZM=$(realpath "$ZR/.vrift/run.manifest")
ZRR=$(realpath "$ZR")
cp "$ZM" "$T/zrace.a" # what run A's walk produced
sleep 0.2
chmod 755 "$ZR/src/f.js"
sleep 0.2
since_b=$(date +%s%N)
(cd "$ZR" && "$VRIFT" run -- true) || not_ok "zero-config race: run B"
cp "$ZM" "$T/zrace.b"
id_b=$("$VRIFT" manifest id "$T/zrace.b")
cp "$T/zrace.a" "$ZM.new" && mv "$ZM.new" "$ZM" # run A writes last
"$TC" walked "$sock" "$ZRR" "$ZM" "$since_b" "$id_b" >/dev/null || not_ok "zero-config race: B's open"
check_eq "zero-config race: B's walk does not vouch for A's manifest" walk \
  "$("$TC" ask "$sock" "$ZRR" "$ZM" 1000)"
out=$(cd "$ZR" && "$VRIFT" run -- stat -c %a src/f.js)
check_eq "zero-config race: so the next run walks, and projects the project as it is" 755 "$out"
# The same open for the manifest B's walk did produce: its time vouches for it.
cp "$T/zrace.b" "$ZM.new" && mv "$ZM.new" "$ZM"
sleep 0.1
"$TC" walked "$sock" "$ZRR" "$ZM" "$since_b" "$id_b" >/dev/null || not_ok "zero-config race: B's open"
check_eq "zero-config race: B's walk vouches for B's manifest" tree-clean \
  "$("$TC" ask "$sock" "$ZRR" "$ZM" 1000)"
# Three zero-config runs started together in a fresh copy of a project whose node_modules files
# the store has (a checkout): their ingests take turns (an flock of the root's lock file in the store). Walking at once,
# one read files the other was replacing with links to their blobs ("changed while being read":
# it failed), and took the other's temporary link names for files of the project (left behind).
ZC="$T/zconc"
mkdir -p "$ZC/node_modules/dep"
printf '{"name": "c"}\n' >"$ZC/package.json"
for i in $(seq 1 150); do printf 'dep %s\n' "$i" >"$ZC/node_modules/dep/f$i.js"; done
(cd "$ZC" && "$VRIFT" run -- true) || not_ok "zero-config, concurrent: the first project"
cp -a "$ZC" "$ZC.copy"
rm -rf "$ZC.copy/.vrift"
for k in 1 2 3; do
  (cd "$ZC.copy" && "$VRIFT" run -- sh -c 'cat node_modules/dep/f7.js; ls node_modules/dep | wc -l') \
    >"$T/zc.$k" 2>&1 &
done
wait
for k in 1 2 3; do
  check_eq "zero-config, three runs at once in a fresh copy: run $k" "dep 7 150" "$(tr '\n' ' ' <"$T/zc.$k" | sed 's/ $//')"
done
check_eq "zero-config, three runs at once: nothing left in the project" "" \
  "$(find "$ZC.copy" -name '*.vrift-link.*')"
"$VRIFT" daemon stop >/dev/null 2>&1

# --- changes to projected entries, before the write path (docs/shim.md) --------------------
# A phantom file has nothing on disk: what the kernel would do (make a file its VDir entry
# shadows, remove an empty skeleton directory, answer ENOENT) is refused, loudly; new files
# beside projected ones work; the projection and the disk are unchanged afterwards.
W="$T/wproj"
mkdir -p "$W/d/sub" "$W/e"
printf 'hello\n' >"$W/d/a.txt"; printf 'world\n' >"$W/d/sub/b.txt"; ln -s a.txt "$W/d/l"
ln -s sub "$W/d/ldir"
cp -a "$W" "$T/wsolid"
"$VRIFT" ingest "$W" --mode phantom -o "$T/w.manifest" >/dev/null
cat >"$T/changes.sh" <<'EOF'
t() { out=$(eval "$1" 2>&1); echo "$? $1: $(echo "$out" | head -1 | sed 's/.*: //')"; }
t 'echo x > d/a.txt'; t 'echo x >> d/a.txt'; t 'rm d/a.txt'; t 'rm -f d/l'
t 'rmdir d/sub'; t 'rmdir e'; t 'mv d/a.txt d/z.txt'; t 'mv d/sub d/s2'
t 'echo n > n.txt && mv n.txt d/a.txt'; t 'mkdir d/a.txt'; t 'ln -s x d/l'; t 'ln d/a.txt h'
t 'chmod 600 d/a.txt'; t 'touch d/a.txt'; t 'truncate -s 1 d/a.txt'
python3 -c '
import os
for what, f in (("open r+", lambda: open("d/a.txt", "r+")), ("open a", lambda: open("d/a.txt", "a")),
                ("utime", lambda: os.utime("d/a.txt")), ("replace", lambda: os.replace("d/l", "d/a.txt"))):
    try:
        f()
        print(what, "done")
    except OSError as e:
        print(what, e.strerror)'
t 'echo new > d/new.txt && cat d/new.txt && rm d/new.txt'; t 'mkdir d/nd && rmdir d/nd'
cat d/a.txt d/sub/b.txt; ls d | tr '\n' ' '
EOF
want='1 echo x > d/a.txt: Read-only file system
1 echo x >> d/a.txt: Read-only file system
1 rm d/a.txt: Read-only file system
1 rm -f d/l: Read-only file system
1 rmdir d/sub: Directory not empty
0 rmdir e: 
1 mv d/a.txt d/z.txt: Read-only file system
1 mv d/sub d/s2: Read-only file system
1 echo n > n.txt && mv n.txt d/a.txt: Read-only file system
1 mkdir d/a.txt: File exists
1 ln -s x d/l: File exists
1 ln d/a.txt h: Invalid cross-device link
1 chmod 600 d/a.txt: Read-only file system
1 touch d/a.txt: Read-only file system
1 truncate -s 1 d/a.txt: Read-only file system
open r+ Read-only file system
open a Read-only file system
utime Read-only file system
replace Read-only file system
0 echo new > d/new.txt && cat d/new.txt && rm d/new.txt: new
0 mkdir d/nd && rmdir d/nd: 
hello
world
a.txt l ldir sub '
got=$(cd "$W" && "$VRIFT" run -m "$T/w.manifest" -- bash "$T/changes.sh" 2>&1)
if [ "$want" == "$got" ]; then ok "changes to phantom entries fail loudly; new files work"; else
  not_ok "changes to phantom entries"; diff <(echo "$want") <(echo "$got") | head -20
fi
check_eq "the disk keeps only the skeleton (no shadowing file was made; the empty e removed)" \
  "$(printf '%s\n' "$W" "$W/d" "$W/d/sub" "$W/n.txt")" "$(find "$W" | sort)"
# The same rules from C, where the arguments can be what a shell never passes: null paths (the
# kernel's EFAULT, not a crash), trailing slashes ("file/" must not become a hidden directory),
# fopen through a symlink the program made and onto a projected link to a directory, and a
# projected file's descriptor (the shared blob) reached through /proc/self/fd or AT_EMPTY_PATH.
cat >"$T/mut.c" <<'EOF'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static const char* volatile np; /* a null path the compiler cannot see */
static void r(const char* what, int rc) { printf("%s %s\n", what, rc == 0 ? "ok" : strerrorname_np(errno)); }
int main(void) {
  r("unlink(NULL)", unlink(np)); r("rmdir(NULL)", rmdir(np)); r("chmod(NULL)", chmod(np, 0600));
  r("truncate(NULL)", truncate(np, 0)); r("mkdir(NULL)", mkdir(np, 0700));
  r("rename(NULL)", rename(np, "x")); r("link(NULL)", link(np, "x"));
  r("mkdir d/a.txt/", mkdir("d/a.txt/", 0700)); r("mkdir d/l/", mkdir("d/l/", 0700));
  r("rename onto d/l/", (mkdir("nd", 0700), rename("nd", "d/l/"))); rmdir("nd");
  r("rename d/a.txt out", rename("d/a.txt", "/tmp/vrift-mut-out"));
  FILE* f = fopen("d/ldir", "w"); r("fopen d/ldir w", f ? 0 : -1);
  r("symlink d/mine", symlink("a.txt", "d/mine"));
  f = fopen("d/mine", "w"); r("fopen d/mine w", f ? 0 : -1);
  int fd = open("d/a.txt", O_RDONLY); char p[64]; snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  r("chmod /proc/self/fd", chmod(p, 0777)); r("truncate /proc/self/fd", truncate(p, 0));
  r("open /proc/self/fd w", open(p, O_WRONLY) >= 0 ? 0 : -1);
  r("fopen /proc/self/fd a", fopen(p, "a") ? 0 : -1);
  r("link /proc/self/fd", linkat(AT_FDCWD, p, AT_FDCWD, "h1", AT_SYMLINK_FOLLOW));
  r("linkat AT_EMPTY_PATH", linkat(fd, "", AT_FDCWD, "h2", AT_EMPTY_PATH));
  char buf[16] = {0}; r("read it", pread(fd, buf, sizeof buf - 1, 0) == 6 ? 0 : -1);
  printf("%s", buf);
  return 0;
}
EOF
gcc -o "$T/mut" "$T/mut.c" || not_ok "building mut"
got=$(cd "$W" && "$VRIFT" run -m "$T/w.manifest" -- "$T/mut" 2>&1)
want='unlink(NULL) EFAULT
rmdir(NULL) EFAULT
chmod(NULL) EFAULT
truncate(NULL) EFAULT
mkdir(NULL) EFAULT
rename(NULL) EFAULT
link(NULL) EFAULT
mkdir d/a.txt/ EEXIST
mkdir d/l/ EEXIST
rename onto d/l/ ENOTDIR
rename d/a.txt out EXDEV
fopen d/ldir w EISDIR
symlink d/mine ok
fopen d/mine w EROFS
chmod /proc/self/fd EROFS
truncate /proc/self/fd EROFS
open /proc/self/fd w EROFS
fopen /proc/self/fd a EROFS
link /proc/self/fd EXDEV
linkat AT_EMPTY_PATH EXDEV
read it ok
hello'
if [ "$want" == "$got" ]; then ok "changes from C: null paths, trailing slashes, fopen, the blob's descriptor"; else
  not_ok "changes from C"; diff <(echo "$want") <(echo "$got") | head -20
fi
rm -f "$W/d/mine"
check "the store is sound after all of that" store_is_sound
# A solid projection's files are the user's: a change reaches the file on disk, and from then
# on every process of the session sees the disk for that path (the stale map), not the
# manifest's old view: what a program wrote it reads back, with its size; a file removed is
# gone from stat and from listings, and can be made again; a rename moves it; an emptied
# directory can be removed. Each line is asked of a fresh process (another shim).
"$VRIFT" ingest "$T/wsolid" -o "$T/ws.manifest" >/dev/null
cat >"$T/solid.sh" <<'EOF2'
echo changed > d/a.txt; cat d/a.txt; stat -c '%s' d/a.txt
python3 -c 'open("d/sub/b.txt", "a").write("more\n"); import os; print(os.stat("d/sub/b.txt").st_size)'
rm d/a.txt; stat d/a.txt 2>&1 | sed 's/.*: //'; ls d | tr '\n' ' '; echo
echo again > d/a.txt && cat d/a.txt; ls d | tr '\n' ' '; echo
mv d/a.txt d/moved.txt; cat d/moved.txt; test -e d/a.txt || echo "no a.txt"
rm -r d/sub && test ! -e d/sub && echo "sub removed"; ls d | tr '\n' ' '; echo
ls -la d/l | sed 's/.*-> //'; rm d/l; ln -s moved.txt d/l; cat d/l
EOF2
want='changed
8
11
No such file or directory
l ldir sub 
again
a.txt l ldir sub 
again
no a.txt
sub removed
l ldir moved.txt 
a.txt
again'
got=$(cd "$T/wsolid" && "$VRIFT" run -m "$T/ws.manifest" -- bash "$T/solid.sh" 2>&1)
if [ "$want" == "$got" ]; then ok "changes to a solid projection's files are seen by the session"; else
  not_ok "changes to a solid projection's files"; diff <(echo "$want") <(echo "$got") | head -20
fi
check_eq "the changes reached the user's files" "again|l ldir moved.txt" \
  "$(cat "$T/wsolid/d/moved.txt")|$(ls "$T/wsolid/d" | tr '\n' ' ' | sed 's/ $//')"
# The writes above went to files that are one inode with their blobs (the store links a solid
# ingest's files): each was first replaced by a copy of its own, so the store kept its bytes, and
# the phantom projection of the same content still reads them.
check "the store is sound after writes to a solid projection" store_is_sound
check_eq "a phantom projection of the same bytes is unchanged" "hello" \
  "$(cd "$W" && "$VRIFT" run -m "$T/w.manifest" -- cat d/a.txt 2>&1)"
# The copy is made only for an open the kernel allows (a running program's file: ETXTBSY, the
# file intact; fopen "wx": EEXIST), by one process while the others wait (eight appenders at
# once, all lines kept), keeps the file's times (r+ without a write: the same mtime), and is
# made for a file already marked stale by a change that did not copy it (chmod, then append),
# and before a truncate by path (os.truncate: truncate(2)), also of a file marked stale.
C="$T/cow"
mkdir -p "$C/bin"
printf 'cow log 0\n' >"$C/log"; printf 'keep me\n' >"$C/keep.txt"; cp /bin/sleep "$C/bin/sleeper"
printf 'chmod, then append\n' >"$C/touched.txt"
printf 'truncate me, by path\n' >"$C/trunc.txt"; printf 'chmod, then truncate to nothing\n' >"$C/trunc0.txt"
printf '#include <errno.h>\n#include <stdio.h>\n#include <string.h>\nint main(int c, char** v) { FILE* f = fopen(v[1], v[2]); puts(f ? "opened" : strerror(errno)); return c < 3; }\n' >"$T/fo.c"
gcc -o "$T/fo" "$T/fo.c" || not_ok "building fo"
"$VRIFT" ingest "$C" -o "$T/cow.manifest" >/dev/null
mtime0=$(stat -c %y "$C/keep.txt")
cat >"$T/cow.sh" <<'EOF2'
bin/sleeper 5 & pid=$!; sleep 0.2
( echo x > bin/sleeper ) 2>&1 | sed 's/.*: //'; kill $pid; wait $pid 2>/dev/null
cmp -s bin/sleeper /bin/sleep && echo "sleeper intact"
"$FO" keep.txt wx
cat keep.txt
for i in 1 2 3 4 5 6 7 8; do sh -c "echo line $i >> log" & done; wait
sort log | tr '\n' ' '; echo
python3 -c 'open("keep.txt", "r+").close()'; stat -c %y keep.txt
chmod 640 touched.txt; echo more >> touched.txt; cat touched.txt | tr '\n' ' '; echo
python3 -c 'import os; os.truncate("trunc.txt", 8)'; cat trunc.txt; echo
chmod 600 trunc0.txt; python3 -c 'import os; os.truncate("trunc0.txt", 0)'; stat -c %s trunc0.txt
EOF2
want="Text file busy
sleeper intact
File exists
keep me
cow log 0 line 1 line 2 line 3 line 4 line 5 line 6 line 7 line 8 
$mtime0
chmod, then append more 
truncate
0"
got=$(cd "$C" && FO="$T/fo" "$VRIFT" run -m "$T/cow.manifest" -- bash "$T/cow.sh" 2>&1)
if [ "$want" == "$got" ]; then ok "the copy before a write: refused opens change nothing, one copy, times kept"; else
  not_ok "the copy before a write"; diff <(echo "$want") <(echo "$got") | head -20
fi
check "the store is sound after the copies" store_is_sound
check_eq "no copy left beside the files" "" "$(find "$C" -name '*.vrift-cow.*')"

# --- the daemon killed mid-run: the program keeps working ---------------------------------
# (vrift itself runs without the shim here: an ASan build of it refuses a preloaded library)
dpid_file="$T/dpid"
out=$(cd "$J" && "${R[@]}" sh -c '
  cat docs/a.txt
  pid=$(env -u LD_PRELOAD "$0" daemon status 2>/dev/null | sed -n "s/^ *PID: *\([0-9]*\).*/\1/p" | head -1)
  echo "$pid" > "$1"; kill -9 "$pid"; sleep 0.3
  cat docs/deep/er/b.txt | wc -c; ls docs | wc -l; stat -c %s docs/link' "$VRIFT" "$dpid_file" 2>&1)
check_eq "after kill -9 of the daemon the program still reads, lists and stats" \
  "$(printf 'alpha\n10000\n5\n5')" "$(echo "$out" | head -4 | sed 's/^ *//')"
dead() { ! kill -0 "$1" 2>/dev/null || grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat"; } # (or a zombie)
check "the daemon was really killed" dead "$(cat "$dpid_file")"
out=$(cd "$J" && "${R[@]}" cat docs/a.txt 2>&1)
check_eq "the next run starts a new daemon" "alpha" "$out"

"$VRIFT" daemon stop >/dev/null 2>&1
finish
