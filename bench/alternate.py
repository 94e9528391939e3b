#!/usr/bin/env python3
"""Runs several commands alternately (one run of each per round, in a rotated order, the first
round discarded) and prints the median wall and CPU (user + system of the children) time of
each. On a noisy shared machine a same-run, interleaved comparison is the one that means
something.

  bench/alternate.py RUNS -- CMD1 ARGS ::: CMD2 ARGS ::: ...
"""
import resource
import statistics
import subprocess
import sys
import time

if len(sys.argv) < 4 or sys.argv[2] != "--":
    sys.exit(__doc__)
runs = int(sys.argv[1])
cmds = [c.split() for c in " ".join(sys.argv[3:]).split(" ::: ")]
wall = [[] for _ in cmds]
cpu = [[] for _ in cmds]
for r in range(runs + 1):
    # A rotated order each round: the first program of a round runs a few percent slower than
    # the same program right after it on this VM, which a fixed order would charge to one command.
    for k in range(len(cmds)):
        i = (k + r) % len(cmds)
        c = cmds[i]
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(c, stdout=subprocess.DEVNULL, check=True)
        t1 = time.perf_counter()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r == 0:
            continue  # warm-up round
        wall[i].append((t1 - t0) * 1e3)
        cpu[i].append(((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)) * 1e3)
for i, c in enumerate(cmds):
    print(f"{statistics.median(wall[i]):8.2f} ms wall {statistics.median(cpu[i]):8.2f} ms cpu  {' '.join(c)}")
