"""Dispatch throughput of two or more builds side by side, alternating: `control_ab.py BASE_DIR NEW_DIR [MORE_DIRS…]
[ROUNDS]` (each a `.build/release` with honeycombd, drone and hive; each round runs every build once, in turn forward
and backward). Same workload as control_bench's throughput rows.

Besides tasks/s, the CPU each side spent per task (utime + stime from /proc, over the whole measured goal(s), ÷ tasks):
honeycombd (control plane, journal and embedded broker), the 8 drones together, and the `hive bench-control` client.
On a shared 2-core machine CPU per task is the steadier figure: other processes' load stretches the wall clock, not
the CPU a task costs (much)."""
import os, resource, subprocess, sys, statistics
sys.path.insert(0, os.path.dirname(__file__))
from control_bench import Hive
from processes import cpu_seconds

TASKS, ROUNDS = 20_000, 2


def http_setting(bin_dir):
    """"off" for builds that have the HTTP API (its default listens); None (key left out) for builds from before it."""
    usage = subprocess.run([os.path.join(bin_dir, "honeycombd"), "--help"], capture_output=True, text=True)
    return "off" if "--http" in usage.stdout + usage.stderr else None


def children_cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


args = sys.argv[1:]
rounds = int(args.pop()) if args and args[-1].isdigit() else 4
if len(args) < 2:
    sys.exit("usage: control_ab.py BASE_DIR NEW_DIR [MORE_DIRS…] [ROUNDS]")
# The first two keep their old names (base, new); more builds are named by their folder.
bins = dict(zip(["base", "new"] + args[2:], args))
res = {k: {"rate": [], "hc_us": [], "drones_us": [], "client_us": []} for k in bins}
for rnd in range(rounds):
    for name in (list(bins) if rnd % 2 == 0 else list(reversed(bins))):
        # A drone is judged lost after 10 s (not 1.5 s): 97a05df, without the late-tick rule, lost drones on a loaded
        # machine and failed the goal. Heartbeats cost the same on both sides.
        h = Hive(bins[name], lost_ms=10_000, http=http_setting(bins[name]))
        try:
            drones = [h.drone(f"d{i}", 64) for i in range(8)]
            hc0, dr0, cl0 = cpu_seconds(h.hc.pid), sum(cpu_seconds(d.pid) for d in drones), children_cpu()
            rates = h.bench("--mode", "throughput", "--tasks", str(TASKS), "--rounds", str(ROUNDS))["rates"]
            hc1, dr1, cl1 = cpu_seconds(h.hc.pid), sum(cpu_seconds(d.pid) for d in drones), children_cpu()
        finally:
            h.stop()
        n = TASKS * ROUNDS
        r = res[name]
        r["rate"] += rates
        r["hc_us"].append((hc1 - hc0) / n * 1e6)
        r["drones_us"].append((dr1 - dr0) / n * 1e6)
        r["client_us"].append((cl1 - cl0) / n * 1e6)
        print(f"{name}: {', '.join(f'{x:,.0f}' for x in rates)} tasks/s; CPU µs/task honeycombd {r['hc_us'][-1]:.1f} "
              f"drones {r['drones_us'][-1]:.1f} client {r['client_us'][-1]:.1f}", flush=True)
for k, v in res.items():
    print(k, f"tasks/s median {statistics.median(v['rate']):,.0f}",
          f"| CPU µs/task medians: honeycombd {statistics.median(v['hc_us']):.1f}",
          f"drones {statistics.median(v['drones_us']):.1f} client {statistics.median(v['client_us']):.1f}")
print(f"ratio new/base: tasks/s {statistics.median(res['new']['rate'])/statistics.median(res['base']['rate']):.2f}, "
      f"honeycombd CPU/task {statistics.median(res['new']['hc_us'])/statistics.median(res['base']['hc_us']):.2f}")
