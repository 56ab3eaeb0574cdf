"""Dispatch throughput of two builds side by side, alternating: `control_ab.py OLD_RELEASE_DIR NEW_RELEASE_DIR [PAIRS]`
(each a `.build/release` with honeycombd, drone and hive). Same workload as control_bench's throughput rows."""
import os, sys, statistics
sys.path.insert(0, os.path.dirname(__file__))
from control_bench import Hive

bins = {"base": sys.argv[1], "new": sys.argv[2]}
res = {"base": [], "new": []}
for rnd in range(int(sys.argv[3]) if len(sys.argv) > 3 else 4):
    for name in (["base", "new"] if rnd % 2 == 0 else ["new", "base"]):
        h = Hive(bins[name])
        try:
            for i in range(8):
                h.drone(f"d{i}", 64)
            res[name] += h.bench("--mode", "throughput", "--tasks", "20000", "--rounds", "2")["rates"]
        finally:
            h.stop()
for k, v in res.items():
    print(k, f"median {statistics.median(v):,.0f}", [f"{x:,.0f}" for x in v])
print(f"ratio new/base {statistics.median(res['new'])/statistics.median(res['base']):.2f}")
