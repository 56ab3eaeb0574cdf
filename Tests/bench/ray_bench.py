#!/usr/bin/env python3
"""Hive beside Ray, in the same run: each anchor measured on both, alternating Hive then Ray, `--runs` times, on
fresh processes every time; medians and ratios in markdown.

Hive: release binaries from --bin (honeycombd with its journal on disk, drones of the noop backend) driven by
`hive bench-control`. Ray: Tests/bench/ray_anchor.py under the Python of Ray's own venv (--ray-python; `make
ray-venv` makes it). Figures from a loaded machine still compare: both sides share the same load in the same run.
"""
import argparse, json, os, statistics, subprocess, sys, time

from control_bench import Hive, scaling
from processes import load_average, rss_kb

HERE = os.path.dirname(os.path.abspath(__file__))


def ray(python, *args):
    r = subprocess.run([python, os.path.join(HERE, "ray_anchor.py"), *args], capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        sys.exit(f"ray_anchor {' '.join(args)} failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def hive_dispatch(bin_dir, tasks, rounds):
    """Throughput, one-task latency and 100 × 100 nested fork–join on 8 drones × 64 slots, journal on."""
    hive = Hive(bin_dir)
    try:
        for i in range(8):
            hive.drone(f"d{i}", 64)
        rates = hive.bench("--mode", "throughput", "--tasks", str(tasks), "--rounds", str(rounds))["rates"]
        lat = hive.bench("--mode", "latency", "--goals", "500")
        nested = hive.bench("--mode", "nested", "--outer", "100", "--inner", "100", "--rounds", str(rounds))["seconds"]
    finally:
        hive.stop()
    return {"rate": statistics.median(rates), "p50_us": lat["p50_us"], "p99_us": lat["p99_us"],
            "nested_seconds": statistics.median(nested)}


def hive_idle(bin_dir):
    """honeycombd (journal on) and one 2-slot drone: seconds from spawn to the drone joined, RSS after 2 s idle."""
    t0 = time.monotonic()
    hive = Hive(bin_dir)
    try:
        d = hive.drone("idle", 2)
        start = time.monotonic() - t0
        time.sleep(2)  # measuring an idle footprint: the wait is the measurement, not synchronization
        return {"init_seconds": start, "rss_kb": rss_kb(hive.hc.pid) + rss_kb(d.pid), "processes": 2}
    finally:
        hive.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--ray-python", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tasks", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    hive, rayr = [], []
    loads = [load_average()]
    for _ in range(args.runs):
        h = hive_dispatch(args.bin, args.tasks, args.rounds)
        s64 = scaling(args.bin, [64])[64]
        h["scaling_seconds"] = s64[1]
        h.update({f"idle_{k}": v for k, v in hive_idle(args.bin).items()})
        hive.append(h)
        r = {"rate": statistics.median(ray(args.ray_python, "--mode", "throughput", "--tasks", str(args.tasks),
                                           "--rounds", str(args.rounds))["rates"])}
        r.update(ray(args.ray_python, "--mode", "latency", "--goals", "500"))
        r["nested_seconds"] = statistics.median(ray(args.ray_python, "--mode", "nested", "--rounds", "1")["seconds"])
        sc = ray(args.ray_python, "--mode", "scaling")
        r["scaling_seconds"], r["scaling_warm_seconds"], r["scaling_init_seconds"] = sc["fresh_seconds"], sc["warm_seconds"], sc["init_seconds"]
        r.update({f"idle_{k}": v for k, v in ray(args.ray_python, "--mode", "idle").items()})
        rayr.append(r)
        loads.append(load_average())

    def med(rows, key):
        return statistics.median(r[key] for r in rows)

    print("## Hive beside Ray (same run, alternating)\n")
    print(f"{args.runs} runs, each Hive then Ray on fresh processes; medians. Load average (1 min) during the runs: "
          f"{', '.join(loads)} on {os.cpu_count()} CPUs.\n")
    print("| anchor | Hive | Ray | Hive ÷ Ray (> 1: Hive better) |\n| --- | ---: | ---: | ---: |")
    rows = [
        (f"async no-op throughput, {args.tasks:,} tasks (tasks/s)", "rate", "{:,.0f}", False),
        ("synchronous round trip p50 (µs)", "p50_us", "{:,.0f}", True),
        ("synchronous round trip p99 (µs)", "p99_us", "{:,.0f}", True),
        ("100 × 100 nested fork–join (s)", "nested_seconds", "{:.3f}", True),
        ("64 slots, 256 × 100 ms tasks, fresh start (s; ideal 0.400)", "scaling_seconds", "{:.3f}", True),
        ("idle footprint: start until ready (s)", "idle_init_seconds", "{:.2f}", True),
        ("idle footprint: RSS of every process (MiB)", "idle_rss_kb", None, True),
    ]
    for label, key, fmt, lower_better in rows:
        h, r = med(hive, key), med(rayr, key)
        show = (lambda v: f"{v / 1024:,.0f}") if fmt is None else fmt.format
        ratio = (r / h) if lower_better else (h / r)
        print(f"| {label} | {show(h)} | {show(r)} | {ratio:.2f}× |")
    print(f"\nHive: 8 drones × 64 slots with the journal on for throughput, latency and nested (static forks: a goal "
          f"forking 100 forks of 100); 4 drones × 16 slots from a fresh honeycombd for scaling (timed from submit, drones "
          f"joined); honeycombd + one 2-slot drone for the footprint ({med(hive, 'idle_processes'):.0f} processes). "
          f"Ray: num_cpus=2 (64 for scaling: its first batch includes starting workers on demand; warm second batch "
          f"{med(rayr, 'scaling_warm_seconds'):.3f} s, ray.init {med(rayr, 'scaling_init_seconds'):.2f} s); nested "
          f"tasks submit their 100 children from inside a task; {med(rayr, 'idle_processes'):.0f} processes at idle.")
    print("\nPer run (Hive rate / Ray rate): " + ", ".join(f"{h['rate']:,.0f} / {r['rate']:,.0f}" for h, r in zip(hive, rayr)))


if __name__ == "__main__":
    main()
