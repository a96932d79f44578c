#!/usr/bin/env python3
"""The most bytes of large blocks alive at once in a log of large-allocations.c, and the blocks alive then.

Usage: python3 bench/scripts/large-allocations.py LOG.<pid> [...]   (the largest log is the relaunched child's)
"""
import os
import sys

path = max(sys.argv[1:], key=os.path.getsize)
live, total, peak, at_peak, count = {}, 0, 0, {}, 0
for line in open(path):
    kind, address, size = line.split()
    count += 1
    if kind == 'F':
        total -= live.pop(address, 0)
    else:
        live[address] = int(size)
        total += int(size)
    if total > peak:
        peak, at_peak = total, dict(live)
print(f'{path}: {count} events; large blocks alive at once: at most {peak / 1e6:.0f} MB, in {len(at_peak)} blocks:')
for size in sorted(at_peak.values(), reverse=True):
    print(f'  {size / 1e6:.1f} MB')
