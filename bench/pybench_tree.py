#!/usr/bin/env python3
"""pybench_tree.py DIR: the Python benchmark's tree (bench/shim_bench.sh, bench/launch_parts.sh).
200 small modules (10 packages x 20), each importing its predecessor, and a main.py that imports
all of them in order and prints a sum (20100)."""
import os, sys
top = sys.argv[1]
os.makedirs(top)
prev = None
for p in range(10):
    d = os.path.join(top, f"pkg{p}")
    os.makedirs(d)
    open(os.path.join(d, "__init__.py"), "w").write(f'"""package {p}"""\n')
    for m in range(20):
        with open(os.path.join(d, f"m{m}.py"), "w") as f:
            if prev:
                f.write(f"import {prev[0]}.{prev[1]} as _prev\nV = _prev.V + 1\n")
            else:
                f.write("V = 1\n")
            f.write(f"def f(x):\n    return x * {m} + {p}\n")
        prev = (f"pkg{p}", f"m{m}")
with open(os.path.join(top, "main.py"), "w") as f:
    f.write("import importlib\ns = 0\nfor p in range(10):\n    for m in range(20):\n"
            "        s += importlib.import_module(f'pkg{p}.m{m}').V\nprint(s)\n")
