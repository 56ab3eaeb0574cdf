#!/usr/bin/env python3
"""Cognition benchmark: `hive eval` on seeded tasks with the oracle test double (Tests/bench/oracle_model.sh).

One hive: honeycombd, 16 edge drones (one slot each: the cheap explorers), 4 worker drones (critics) and one
core drone (the expensive model), all exec drones running the double. Reports, all in one run:

1. accuracy vs n candidates per task for `vote` and `best` (critics right 90% of the time), with independent
   errors (p = 0.6) and with correlated ones (vote; 20% of tasks fool every call alike, capping it at 0.8);
2. core-tier calls per solved task and wall-clock time: the hive (5 edge candidates vote, one core call to
   arbitrate only when fewer than 3 agree) against "one big model does everything serially" (each task one core
   call, one after another). The double's latencies stand in for model time: 100 ms an edge call, 400 ms a core
   call; p = 0.6 on the edge, 0.9 on the core. Medians of --rounds runs.

    python3 Tests/bench/cognition_bench.py --bin .build/release [--rounds 3] [--count 200]
"""
import argparse, json, os, statistics, sys

sys.path.insert(0, os.path.dirname(__file__))
from broker_bench import free_port  # noqa: E402
from processes import BenchProcesses  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ORACLE = "/bin/sh " + os.path.join(ROOT, "Tests", "bench", "oracle_model.sh")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--count", type=int, default=200, help="tasks per accuracy point")
    ap.add_argument("--timed", type=int, default=40, help="tasks per timed run")
    ap.add_argument("--json")
    args = ap.parse_args()
    procs = BenchProcesses(args.bin)
    b, start = procs.path, procs.start
    port = free_port()
    url = f"nats://127.0.0.1:{port}"

    def hive_eval(*a):
        return procs.hive_eval(url, *a, timeout=900)

    out = {"accuracy": [], "timed": {}}
    try:
        start([b("honeycombd"), "--listen", f"127.0.0.1:{port}", "--prompts", os.path.join(ROOT, "Config", "prompts")],
              "event=bus_connected")
        for tier, n, slots in (("edge", 16, 1), ("worker", 4, 2), ("core", 1, 1)):
            for i in range(n):
                start([b("drone"), "--honeycomb", url, "--tier", tier, "--name", f"{tier}{i}", "--slots", str(slots),
                       "--allow-exec", "/bin/sh"], "event=joined")

        print(f"accuracy vs n ({args.count} arithmetic tasks, seed 1, edge p=0.6)")
        print(f"{'n':>3} {'vote':>7} {'best':>7} {'vote, corr 0.2':>15}")
        for n in (1, 3, 5, 7, 9):
            common = ["--count", str(args.count), "--seed", "1", "--n", str(n), "--tier", "edge"]
            vote = hive_eval(*common, "--join", "vote", "--explorer", f"{ORACLE} --p 0.6")
            best = hive_eval(*common, "--join", "best", "--critic-tier", "worker", "--explorer", f"{ORACLE} --p 0.6",
                             "--critic", f"{ORACLE} --critic --q 0.9")
            corr = hive_eval(*common, "--join", "vote", "--explorer", f"{ORACLE} --p 0.6 --corr 0.2")
            row = {"n": n, "vote": vote["accuracy"], "best": best["accuracy"], "vote_corr": corr["accuracy"],
                   "vote_calls": vote["calls"], "best_calls": best["calls"]}
            out["accuracy"].append(row)
            print(f"{n:>3} {vote['accuracy']:>7.3f} {best['accuracy']:>7.3f} {corr['accuracy']:>15.3f}")

        timed = {"serial": [], "hive": []}
        for r in range(args.rounds):
            seed = str(100 + r)
            timed["serial"].append(hive_eval("--count", str(args.timed), "--seed", seed, "--n", "1", "--tier", "core",
                                             "--serial", "--explorer", f"{ORACLE} --p 0.9 --latency-ms 400"))
            timed["hive"].append(hive_eval("--count", str(args.timed), "--seed", seed, "--n", "5", "--tier", "edge",
                                           "--min-votes", "3", "--escalate", "core", "--explorer",
                                           f"{ORACLE} --p 0.6 --latency-ms 100 --arbiter-p 0.9 --arbiter-latency-ms 400"))
        med = lambda runs, key: statistics.median(x[key] for x in runs)
        for name, runs in timed.items():
            out["timed"][name] = {k: med(runs, k) for k in ("accuracy", "wall_ms", "core_calls", "calls")}
            out["timed"][name]["core_per_solved"] = med([{"c": x["core_per_solved"] or 0} for x in runs], "c")
        s, h = out["timed"]["serial"], out["timed"]["hive"]
        out["speedup"] = s["wall_ms"] / h["wall_ms"]
        print(f"\n{args.timed} tasks, medians of {args.rounds} runs")
        print(f"{'':>28} {'accuracy':>9} {'core calls/solved':>18} {'calls':>6} {'wall ms':>8}")
        print(f"{'serial: one core model':>28} {s['accuracy']:>9.3f} {s['core_per_solved']:>18.2f} {s['calls']:>6.0f} {s['wall_ms']:>8.0f}")
        print(f"{'hive: 5 edge vote + arbiter':>28} {h['accuracy']:>9.3f} {h['core_per_solved']:>18.2f} {h['calls']:>6.0f} {h['wall_ms']:>8.0f}")
        print(f"wall-clock speed-up of the hive over the serial baseline: {out['speedup']:.1f}x")
    finally:
        procs.stop(timeout=10)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
