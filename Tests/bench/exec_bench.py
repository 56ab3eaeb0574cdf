#!/usr/bin/env python3
"""Exec tasks beside xargs, in the same run: N process-per-task `/bin/true` tasks on 4 drones x 4 slots
(`hive submit --exec /bin/true --count N --wait`) against `seq N | xargs -P 16 -n 1 /bin/true`, alternating
xargs then Hive `--runs` times on one hive (release binaries from --bin, journal on disk). Each figure is the wall
time of the whole command, the CLI's start and the goal's submission included. Prints medians and the ratio
(xargs time / Hive time: 1.0 means the drones cost nothing beyond the fork/exec itself).

`--anchor-bin DIR` (repeatable) adds a hive from other binaries (a baseline build), alternated in the same run and
labelled by its folder.
"""
import argparse, os, statistics, subprocess, sys, time

from control_bench import Hive
from processes import BenchProcesses, load_average


def start_hive(bin_dir, drones, slots, command):
    hive = Hive(bin_dir)
    procs = BenchProcesses(bin_dir)
    try:
        for i in range(drones):
            procs.start([procs.path("drone"), "--honeycomb", hive.url, "--name", f"x{i}", "--slots", str(slots),
                         "--allow-exec", command, "--log-level", "info"], "event=joined")
    except BaseException:
        procs.stop()
        hive.stop()
        raise
    return hive, procs


def timed(cmd, **kw):
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    t = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-2000:]}")
    return t


def hive_run(hive, command, tasks):
    return timed([os.path.join(hive.bin, "hive"), "submit", "--exec", command, "--count", str(tasks), "--wait",
                  "--honeycomb", hive.url])


def xargs_run(command, tasks, parallel):
    return timed(["sh", "-c", f"seq {tasks} | xargs -P {parallel} -n 1 {command}"])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", required=True, help="folder with honeycombd, drone, hive (release)")
    ap.add_argument("--anchor-bin", action="append", default=[],
                    help="another build's folder, measured alternately in the same run (repeatable)")
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--drones", type=int, default=4)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--command", default="/bin/true")
    args = ap.parse_args()
    parallel = args.drones * args.slots
    hives = {"hive": start_hive(args.bin, args.drones, args.slots, args.command)}
    for folder in args.anchor_bin:
        hives[folder] = start_hive(folder, args.drones, args.slots, args.command)
    times = {name: [] for name in ["xargs", *hives]}
    try:
        # One unmeasured round each: the first goal pays for page-cache and connection warm-up.
        xargs_run(args.command, args.tasks, parallel)
        for hive, _ in hives.values():
            hive_run(hive, args.command, args.tasks)
        for _ in range(args.runs):
            times["xargs"].append(xargs_run(args.command, args.tasks, parallel))
            for name, (hive, _) in hives.items():
                times[name].append(hive_run(hive, args.command, args.tasks))
    finally:
        for hive, procs in hives.values():
            procs.stop()
            hive.stop()
    load = load_average()
    print(f"{args.tasks} x {args.command}, {args.drones} drones x {args.slots} slots vs xargs -P {parallel}; "
          f"{args.runs} alternating runs, load average {load}")
    print("| run | median s | tasks/s | xargs time / its time | all runs (s) |")
    print("|---|---|---|---|---|")
    base = statistics.median(times["xargs"])
    for name, runs in times.items():
        m = statistics.median(runs)
        print(f"| {name} | {m:.3f} | {args.tasks / m:.0f} | {base / m:.2f}x | {' '.join(f'{t:.3f}' for t in runs)} |")


if __name__ == "__main__":
    main()
