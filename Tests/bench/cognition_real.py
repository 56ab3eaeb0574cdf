#!/usr/bin/env python3
"""Cognition with the real model: `hive eval` on seeded `facts` and `sums` tasks through Gemma 3 270M (base).

One hive on loopback: honeycombd, one drone serving the GGUF with --slots 16 (continuous batching on one llama.cpp
context; candidates of one prompt share its prefix) and one exec drone for the sums checker. For the same seeded
tasks, one run measures:

- greedy: one call at temperature 0;
- sample / vote n: n calls at temperature 1.0 joined by plurality vote (n = 1 is one sample);
- verified n (sums only): n calls at temperature 1.0, each checked by a program on the exec drone (`expr`), the
  first that passes wins (a fact has no checker short of the answer table itself).

Per mode: accuracy, calls (model calls and checks), tokens (prompt + generated, from the drone's usage), wall time
(honeycombd's clock, first submission to last finish), generated tokens/s, and how many of the machine's CPU cores
the hive's processes kept busy (their CPU time over the wall time). Every model assignment is read off the bus as
the drone received it (`task_tap.py`), and the table shows the temperatures that reached the drone.

    python3 Tests/bench/cognition_real.py --bin .build/release --gemma ~/.cache/hive/models/gemma-3-270m-q4_k_m.gguf
"""
import argparse, json, os, sys, tempfile, time

sys.path.insert(0, os.path.dirname(__file__))
from broker_bench import free_port  # noqa: E402
from processes import BenchProcesses  # noqa: E402
from task_tap import TaskTap  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GEMMA = os.path.expanduser("~/.cache/hive/models/gemma-3-270m-q4_k_m.gguf")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """User + system time of the processes and their waited-for children (the exec drone's checks)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            pass
    return total / TICKS


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--gemma", default=GEMMA)
    ap.add_argument("--count", type=int, default=20, help="tasks per suite (the same seeded tasks in every mode)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ns", default="1,2,4,8,16", help="candidates per task")
    ap.add_argument("--suites", default="facts,sums")
    ap.add_argument("--slots", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()
    if not os.path.exists(args.gemma):
        sys.exit(f"the model is not cached ({args.gemma}): run make model")
    ns = [int(x) for x in args.ns.split(",")]
    procs = BenchProcesses(args.bin)
    b, start = procs.path, procs.start
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    data = tempfile.mkdtemp(prefix="hive-cognition-")

    def hive_eval(*a):
        return procs.hive_eval(url, *a, timeout=1800)

    out = {"model": os.path.basename(args.gemma), "count": args.count, "seed": args.seed, "suites": {}}
    began = time.monotonic()
    tap = None
    try:
        config = os.path.join(data, "honeycombd.json")
        with open(config, "w") as f:
            json.dump({"task_timeout_ms": 600000}, f)
        start([b("honeycombd"), "--config", config, "--listen", f"127.0.0.1:{port}",
               "--prompts", os.path.join(ROOT, "Config", "prompts")], "event=bus_connected")
        start([b("drone"), "--honeycomb", url, "--name", "gemma", "--tier", "worker", "--model", args.gemma,
               "--slots", str(args.slots), "--ctx", "256", "--threads", str(args.threads)], "event=joined")
        start([b("drone"), "--honeycomb", url, "--name", "checker", "--tier", "edge", "--slots", "4",
               "--allow-exec", "/bin/sh"], "event=joined")
        tap = TaskTap(port)
        pids = procs.pids

        for suite in args.suites.split(","):
            modes = [("greedy", 1, ["--temperature", "0", "--no-verify"])]
            modes += [("vote", n, ["--temperature", "1", "--join", "vote", "--no-verify"]) for n in ns]
            if suite == "sums":
                modes += [("verified", n, ["--temperature", "1"]) for n in ns]
            rows = []
            for mode, n, extra in modes:
                cpu0 = cpu_seconds(pids)
                r = hive_eval("--suite", suite, "--count", str(args.count), "--seed", str(args.seed), "--n", str(n), *extra)
                cpu = cpu_seconds(pids) - cpu0
                seen = tap.for_goals([x["goal"] for x in r["results"]])
                temps = sorted({a["input"].get("temperature") for a in seen}, key=lambda t: (t is None, t))
                stops = {tuple(a["input"].get("stop") or ()) for a in seen}
                wall = r["wall_ms"] / 1000
                row = {"mode": mode, "n": n, "accuracy": r["accuracy"], "solved": r["solved"],
                       "model_calls": r["calls"] - r["checks"], "checks": r["checks"], "tokens": r["tokens"],
                       "generated_tokens": r["generated_tokens"], "wall_s": wall,
                       "generated_per_s": r["generated_tokens"] / wall if wall > 0 else 0,
                       "cpu_cores": cpu / wall if wall > 0 else 0, "drone_temperatures": temps,
                       "drone_stops": sorted(stops), "assignments": len(seen),
                       "misses": [{"task": x["task"], "expected": x["expected"], "answer": (x.get("answer") or "").strip()}
                                  for x in r["results"] if not x["correct"]]}
                rows.append(row)
                print(f"  {suite} {mode} n={n}: {r['solved']}/{args.count}, {wall:.1f} s, drone saw temperature "
                      f"{temps} stop {sorted(stops)}", file=sys.stderr, flush=True)
            out["suites"][suite] = rows
    finally:
        if tap:
            tap.close()
        procs.stop(timeout=15)
    out["elapsed_s"] = time.monotonic() - began

    ncpu = os.cpu_count()
    print(f"\n{out['model']}, {args.count} tasks per suite (seed {args.seed}), one drone with {args.slots} slots, "
          f"{args.threads} threads, {ncpu} CPUs; whole run {out['elapsed_s']:.0f} s\n")
    for suite, rows in out["suites"].items():
        print(f"**{suite}**\n")
        print("| mode | n | accuracy | model calls | checks | tokens (prompt + generated) | wall | generated tok/s "
              f"| CPU cores busy (of {ncpu}) | temperature at the drone |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for r in rows:
            name = {"greedy": "greedy, one call", "vote": "one sample" if r["n"] == 1 else "vote",
                    "verified": "samples + checker, first verified"}[r["mode"]]
            temps = ", ".join("default" if t is None else f"{t:g}" for t in r["drone_temperatures"])
            print(f"| {name} | {r['n']} | {r['accuracy']:.2f} | {r['model_calls']} | {r['checks']} | "
                  f"{r['tokens'] - r['generated_tokens']} + {r['generated_tokens']} | {r['wall_s']:.1f} s | "
                  f"{r['generated_per_s']:.0f} | {r['cpu_cores']:.2f} | {temps} |")
        last = [r for r in rows if r["mode"] == "vote"][-1]
        if last["misses"]:
            shown = ", ".join(f"{m['expected']} → {m['answer'] or '(none)'}" for m in last["misses"][:8])
            print(f"\nmissed by the vote of {last['n']}: {shown}")
        print()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
