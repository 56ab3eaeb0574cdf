#!/usr/bin/env python3
"""How honeycombd's cost grows with the hive: 8 to 10,000 simulated drones with 1 s heartbeats.

For each size: a fresh honeycombd (journal on disk, heartbeat 1,000 ms) and one `hive bench-control --mode swarm`
process holding that many drone connections (NATSBench's DroneSwarm: the real drone protocol, hello, heartbeats,
leases, results; every no-op task answered at once). honeycombd's CPU (utime + stime from /proc/PID/stat) over the
idle window and its RSS at its end, per drone; then dispatch throughput (a 20,000-task fork) and one-task p99
through the swarm, against the 8-drone figure of the same run. Prints markdown.
"""
import argparse, json, os, statistics, subprocess, sys

from control_bench import Hive
from processes import cpu_seconds, load_average, rss_kb, swarm_command


def one_size(bin_dir, drones, idle_seconds, tasks, rounds, slots, cluster=False):
    hive = Hive(bin_dir, heartbeat_ms=1000, lost_ms=5000, cluster=cluster)
    try:
        pid = hive.hc.pid
        bus_cpu = lambda: sum(cpu_seconds(p.pid) for p in hive.bus)
        base_rss = rss_kb(pid)
        cmd = swarm_command(bin_dir, hive.url, drones, slots, idle_seconds, tasks, rounds, "--goals", "500")
        swarm = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out = {"drones": drones}
        for line in swarm.stdout:
            e = json.loads(line)
            if e["event"] == "joined":
                out["join_seconds"] = e["seconds"]
                c0, s0, b0 = cpu_seconds(pid), cpu_seconds(swarm.pid), bus_cpu()
            elif e["event"] == "idle":
                out["idle_cpu"] = (cpu_seconds(pid) - c0) / idle_seconds  # cores
                out["swarm_cpu"] = (cpu_seconds(swarm.pid) - s0) / idle_seconds
                out["bus_cpu"] = (bus_cpu() - b0) / idle_seconds
                out["rss_kb"] = rss_kb(pid)
                out["rss_per_drone_kb"] = (out["rss_kb"] - base_rss) / drones
                out["heartbeats_per_s"] = e["heartbeats"] / idle_seconds
                out["unknown"] = e["unknown"]
            elif e["event"] == "done":
                out["rate"] = statistics.median(e["rates"])
                out["p50_us"], out["p99_us"] = e["p50_us"], e["p99_us"]
        if swarm.wait(timeout=600) != 0:
            # Idle figures stand; dispatch through a hive this size did not finish (reported as such).
            out["failed"] = swarm.stderr.read().strip()[-300:]
            print(f"swarm of {drones}: {out['failed']}", file=sys.stderr)
        if "idle_cpu" not in out:
            sys.exit(f"swarm of {drones} never went idle: {out.get('failed', '')}")
        return out
    finally:
        hive.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--sizes", default="8,100,1000,10000")
    ap.add_argument("--idle-seconds", type=float, default=10)
    ap.add_argument("--tasks", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--slots", type=int, default=64)
    ap.add_argument("--cluster", action="store_true",
                    help="honeycombd on a 3-node nats-server cluster (drones on another node than honeycombd)")
    args = ap.parse_args()
    load = load_average()
    rows = [one_size(args.bin, int(n), args.idle_seconds, args.tasks, args.rounds, args.slots, args.cluster)
            for n in args.sizes.split(",")]
    base = rows[0]
    print("## Control plane by hive size (simulated drones)\n")
    print(f"One honeycombd (journal on, 1 s heartbeats) and one process of N simulated drones × {args.slots} slots; idle "
          f"window {args.idle_seconds:g} s; throughput: a {args.tasks:,}-task no-op fork, median of {args.rounds}; "
          f"latency: 500 one-task goals. Load average at start: {load} on {os.cpu_count()} CPUs.\n")
    print("| drones | join (s) | heartbeats/s | honeycombd CPU idle (cores) | per 1,000 drones | RSS (MiB) | RSS per drone (KiB) "
          "| tasks/s | × N=" + str(base["drones"]) + " | p50 (µs) | p99 (µs) | swarm CPU idle (cores) |")
    print("| ---: " * 12 + "|")
    for r in rows:
        dispatch = (f"{r['rate']:,.0f} | {r['rate'] / base['rate']:.2f}× | {r['p50_us']:,.0f} | {r['p99_us']:,.0f}"
                    if "rate" in r and "rate" in base else "did not finish | — | — | —")
        print(f"| {r['drones']:,} | {r['join_seconds']:.2f} | {r['heartbeats_per_s']:,.0f} | {r['idle_cpu']:.3f} | "
              f"{r['idle_cpu'] / r['drones'] * 1000:.3f} | {r['rss_kb'] / 1024:,.1f} | {r['rss_per_drone_kb']:.1f} | "
              f"{dispatch} | {r['swarm_cpu']:.3f} |")
    for r in rows:
        if "failed" in r:
            print(f"\n{r['drones']:,} drones: {r['failed']}")
    print("\n" + json.dumps(rows))


if __name__ == "__main__":
    main()
