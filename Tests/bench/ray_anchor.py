#!/usr/bin/env python3
"""Ray's side of the control-plane comparison: one measurement per call, JSON on stdout (Tests/bench/ray_bench.py).

Runs under the Python of Ray's own venv (.bench/ray-venv: `make ray-venv`), never the project's. Every call starts
Ray afresh (`ray.init` on this machine, nothing shared between calls) and shuts it down, as `hive bench-control`
runs against a fresh honeycombd.

Modes, each the shape of a Hive figure beside it:
- throughput: `ray.get([noop.remote() for _ in range(N)])`, num_cpus=2, after a warm-up; tasks/s per round.
- latency: one `ray.get(noop.remote())` at a time; p50/p99 µs.
- nested: 100 tasks that each submit 100 no-op tasks and wait for them; seconds per round.
- scaling: num_cpus=64 from a fresh start, 256 tasks of 100 ms (4 waves); seconds for the first batch (workers
  start on demand) and for a second one (warm).
- idle: seconds for `ray.init`, then the RSS of every process Ray started (driver included) after 2 s idle.
"""
import argparse, json, os, statistics, time

import ray


@ray.remote
def noop():
    return None


@ray.remote
def sleeper(ms):
    time.sleep(ms / 1000)


@ray.remote
def fan(n):
    return len(ray.get([noop.remote() for _ in range(n)]))


def start(cpus):
    t0 = time.monotonic()
    ray.init(num_cpus=cpus, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    return time.monotonic() - t0


def descendants_rss_kb(root):
    """VmRSS of `root` and every process below it (Ray's gcs_server, raylet, workers: all started by the driver)."""
    parent = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    parent[int(pid)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    tree, grew = {root}, True
    while grew:
        more = {p for p, pp in parent.items() if pp in tree and p not in tree}
        tree |= more
        grew = bool(more)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total, len(tree)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mode", required=True, choices=["throughput", "latency", "nested", "scaling", "idle"])
    ap.add_argument("--tasks", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--goals", type=int, default=500)
    args = ap.parse_args()
    out = {}
    if args.mode == "scaling":
        out["init_seconds"] = start(64)
        for key in ("fresh_seconds", "warm_seconds"):
            t0 = time.monotonic()
            ray.get([sleeper.remote(100) for _ in range(256)])
            out[key] = time.monotonic() - t0
    elif args.mode == "idle":
        out["init_seconds"] = start(2)
        ray.get(noop.remote())
        time.sleep(2)
        out["rss_kb"], out["processes"] = descendants_rss_kb(os.getpid())
    else:
        start(2)
        ray.get([noop.remote() for _ in range(200)])  # workers up, as Hive's drones are before it is measured
        if args.mode == "throughput":
            rates = []
            for _ in range(args.rounds):
                t0 = time.monotonic()
                ray.get([noop.remote() for _ in range(args.tasks)])
                rates.append(args.tasks / (time.monotonic() - t0))
            out["rates"] = rates
        elif args.mode == "latency":
            lat = []
            for _ in range(args.goals):
                t0 = time.monotonic()
                ray.get(noop.remote())
                lat.append(time.monotonic() - t0)
            lat.sort()
            out["p50_us"] = lat[len(lat) // 2] * 1e6
            out["p99_us"] = lat[min(len(lat) - 1, len(lat) * 99 // 100)] * 1e6
        else:
            secs = []
            for _ in range(args.rounds):
                t0 = time.monotonic()
                assert sum(ray.get([fan.remote(100) for _ in range(100)])) == 10_000
                secs.append(time.monotonic() - t0)
            out["seconds"] = secs
    ray.shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
