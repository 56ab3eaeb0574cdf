#!/usr/bin/env python3
"""honeycombd's cost per queued task: one goal of N no-op tasks (a fork of forks of 1,000) submitted to a hive with
no drone, so all N wait in the queue; then a swarm of simulated drones (hive bench-control --mode swarm) joins and
drains it.

Reports per size: the submit's time and honeycombd CPU, RSS and journal bytes per queued task, honeycombd's idle CPU
with the queue full (the tick must not walk it), and the drain rate. Run two sizes to see whether any of them grows
faster than the queue. Prints markdown.
"""
import argparse, asyncio, json, os, subprocess, sys, time

import nats

from control_bench import Hive
from processes import cpu_seconds, load_average, rss_kb, swarm_command

INNER = 1_000


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


async def submit_and_watch(url, n):
    outer = -(-n // INNER)
    leaf = {"kind": "noop", "max_attempts": 1}
    children = [{"kind": "fork", "children": [leaf] * min(INNER, n - i * INNER)} for i in range(outer)]
    spec = {"name": "queued", "budget": {"max_tasks": n + outer + 1}, "root": {"kind": "fork", "children": children}}
    body = json.dumps(spec).encode()
    nc = await nats.connect(url, max_reconnect_attempts=0)
    ended = asyncio.get_running_loop().create_future()

    async def on_event(m):
        e = json.loads(m.data)
        if e.get("state") in ("succeeded", "failed", "cancelled") and not ended.done():
            ended.set_result(e)

    await nc.subscribe("hive.v1.events.*", cb=on_event)
    t0 = time.monotonic()
    reply = await nc.request("hive.v1.api.submit", body, timeout=600)
    return nc, ended, time.monotonic() - t0, json.loads(reply.data), len(body)


async def one_size(bin_dir, n, idle_seconds, drones, slots):
    hive = Hive(bin_dir, heartbeat_ms=1000, lost_ms=5000,
                extra={"max_payload": 64 << 20, "max_spec_bytes": 64 << 20})
    try:
        pid = hive.hc.pid
        base_rss, c0 = rss_kb(pid), cpu_seconds(pid)
        nc, ended, submit_s, reply, spec_bytes = await submit_and_watch(hive.url, n)
        if "goal" not in reply:
            sys.exit(f"submit of {n} tasks refused: {reply}")
        out = {"tasks": n, "spec_mib": spec_bytes / (1 << 20), "submit_s": submit_s,
               "submit_cpu_us_per_task": (cpu_seconds(pid) - c0) / n * 1e6}
        await asyncio.sleep(1)
        c1 = cpu_seconds(pid)
        await asyncio.sleep(idle_seconds)
        out["idle_cpu"] = (cpu_seconds(pid) - c1) / idle_seconds
        out["rss_mib"] = rss_kb(pid) / 1024
        out["rss_b_per_task"] = (rss_kb(pid) - base_rss) * 1024 / n
        out["journal_b_per_task"] = dir_bytes(os.path.join(hive.tmp, "data")) / n
        cmd = swarm_command(bin_dir, hive.url, drones, slots, 3600, 1, 1)
        swarm = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            t0, c2 = time.monotonic(), cpu_seconds(pid)
            e = await asyncio.wait_for(ended, timeout=1800)
            out["drain_s"] = time.monotonic() - t0
            out["drain_rate"] = n / out["drain_s"]
            out["drain_cpu_us_per_task"] = (cpu_seconds(pid) - c2) / n * 1e6
            out["state"] = e["state"]
            out["reason"] = e.get("reason")
        finally:
            swarm.terminate()
            swarm.wait()
        await nc.close()
        return out
    finally:
        hive.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--sizes", default="100000,999000")  # 999,000 leaves + 1,000 forks: budget.max_tasks's 1,000,000
    ap.add_argument("--idle-seconds", type=float, default=10)
    ap.add_argument("--drones", type=int, default=100)
    ap.add_argument("--slots", type=int, default=64)
    args = ap.parse_args()
    load = load_average()
    rows = [asyncio.run(one_size(args.bin, int(n), args.idle_seconds, args.drones, args.slots)) for n in args.sizes.split(",")]
    print("## Control plane by queue size (one goal)\n")
    print(f"One honeycombd (journal on), one goal of N no-op tasks (forks of {INNER:,}) queued with no drone; idle "
          f"window {args.idle_seconds:g} s; then {args.drones} simulated drones × {args.slots} slots drain it. "
          f"Load average at start: {load} on {os.cpu_count()} CPUs.\n")
    print("| queued tasks | spec (MiB) | submit (s) | submit CPU (µs/task) | idle CPU (cores) | RSS (MiB) | RSS/task (B) "
          "| journal/task (B) | drain (tasks/s) | drain CPU (µs/task) | goal |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        print(f"| {r['tasks']:,} | {r['spec_mib']:.1f} | {r['submit_s']:.2f} | {r['submit_cpu_us_per_task']:.1f} | "
              f"{r['idle_cpu']:.3f} | {r['rss_mib']:.0f} | {r['rss_b_per_task']:.0f} | {r['journal_b_per_task']:.0f} | "
              f"{r['drain_rate']:,.0f} | {r['drain_cpu_us_per_task']:.1f} | {r['state']} |")
    print()
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
