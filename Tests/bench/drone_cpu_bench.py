#!/usr/bin/env python3
"""CPU per task on the dispatch path, drones and honeycombd apart: `hive bench-control --mode throughput` (one goal
forking --tasks no-op tasks, 8 drones × 64 slots, journal on) with the utime + stime of every drone and of honeycombd
read from /proc before and after, divided by the tasks run; then 500 one-task goals for the round trip's p50/p99. Builds given with --bin LABEL=DIR alternate order each
pair (A B, B A, …), fresh processes per sample; medians per build. CPU per task is far steadier than tasks/s on a
shared machine (other processes' load changes the rate, much less the work each task costs).

  python3 Tests/bench/drone_cpu_bench.py --bin base=/tmp/base/release --bin new=.build/release --pairs 3
"""
import argparse, statistics, sys

from control_bench import Hive
from swarm_bench import cpu_seconds


def sample(bin_dir, tasks, rounds, drones, slots):
    hive = Hive(bin_dir)
    try:
        ds = [hive.drone(f"d{i}", slots) for i in range(drones)]
        hive.bench("--mode", "throughput", "--tasks", "2000", "--rounds", "1")  # warm-up: first leases, caches
        before = (cpu_seconds(hive.hc.pid), sum(cpu_seconds(d.pid) for d in ds))
        rates = hive.bench("--mode", "throughput", "--tasks", str(tasks), "--rounds", str(rounds))["rates"]
        after = (cpu_seconds(hive.hc.pid), sum(cpu_seconds(d.pid) for d in ds))
        lat = hive.bench("--mode", "latency", "--goals", "500")  # one task at a time: what lists cost a lone result
    finally:
        hive.stop()
    n = tasks * rounds
    return {"rate": statistics.median(rates), "hc_us": (after[0] - before[0]) / n * 1e6,
            "drones_us": (after[1] - before[1]) / n * 1e6, "p50_us": lat["p50_us"], "p99_us": lat["p99_us"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", action="append", required=True, help="LABEL=DIR of release binaries (repeat to compare)")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--tasks", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=2, help="throughput rounds per sample (one start)")
    ap.add_argument("--drones", type=int, default=8)
    ap.add_argument("--slots", type=int, default=64)
    args = ap.parse_args()
    builds = [b.split("=", 1) if "=" in b else (b, b) for b in args.bin]
    out = {label: [] for label, _ in builds}
    for i in range(args.pairs):
        for label, path in (builds if i % 2 == 0 else list(reversed(builds))):
            s = sample(path, args.tasks, args.rounds, args.drones, args.slots)
            out[label].append(s)
            print(f"{label}: {s['rate']:,.0f} tasks/s, drones {s['drones_us']:.1f} µs/task, honeycombd {s['hc_us']:.1f} µs/task, "
                  f"one-task goal p50 {s['p50_us']:,.0f} µs p99 {s['p99_us']:,.0f} µs",
                  file=sys.stderr, flush=True)
    print("| build | tasks/s | drones' CPU (µs/task) | honeycombd CPU (µs/task) | total (µs/task) | one-task p50 (µs) | p99 (µs) | samples |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, ss in out.items():
        med = lambda k: statistics.median(s[k] for s in ss)
        total = statistics.median(s["hc_us"] + s["drones_us"] for s in ss)
        print(f"| {label} | {med('rate'):,.0f} | {med('drones_us'):.1f} | {med('hc_us'):.1f} | {total:.1f} | {med('p50_us'):,.0f} | "
              f"{med('p99_us'):,.0f} | {len(ss)} |")


if __name__ == "__main__":
    main()
