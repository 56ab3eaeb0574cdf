#!/usr/bin/env python3
"""Control-plane benchmarks: dispatch throughput and latency, scaling with drone slots, recovery after SIGKILL.

Runs release binaries on loopback: honeycombd (journal on disk under a temp dir) and drone processes; drives
them with `hive bench-control` (one measurement per call, JSON) and `hive tasks --json`. Prints markdown.
"""
import argparse, json, os, signal, statistics, subprocess, sys, tempfile, time

from broker_bench import free_port  # a sibling script: its directory is on sys.path when run


class Hive:
    def __init__(self, bin_dir, heartbeat_ms=1000, lost_ms=1500, journal=True, http="off", extra=None, cluster=False):
        self.bin = bin_dir
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.tmp = tempfile.mkdtemp(prefix="hive-bench-")
        self.procs = []
        self.bus = []
        if cluster:
            # A 3-node nats-server cluster: honeycombd on the first node, clients (self.url) on the third, so every
            # drone message crosses the routes.
            clients, routes = [free_port() for _ in range(3)], [free_port() for _ in range(3)]
            for i in range(3):
                others = ",".join(f"nats://127.0.0.1:{routes[j]}" for j in range(3) if j != i)
                self.bus.append(subprocess.Popen(
                    ["nats-server", "-a", "127.0.0.1", "-p", str(clients[i]), "--cluster_name", "hive",
                     "--cluster", f"nats://127.0.0.1:{routes[i]}", "--routes", others],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self.procs += self.bus
            self.url = f"nats://127.0.0.1:{clients[2]}"
            listen = ["--nats", f"nats://127.0.0.1:{clients[0]}"]
        else:
            listen = ["--listen", f"127.0.0.1:{self.port}"]
        cfg = os.path.join(self.tmp, "hc.json")
        with open(cfg, "w") as f:
            # http=None leaves the key out, for builds from before the HTTP API (control_ab.py against 97a05df).
            json.dump({"heartbeat_ms": heartbeat_ms, "drone_lost_after_ms": lost_ms, "log_level": "warn",
                       **({"http": http} if http is not None else {}), **(extra or {})}, f)
        data = ["--data", os.path.join(self.tmp, "data")] if journal else []
        self.hc = self.spawn("honeycombd", "--config", cfg, *listen, *data)
        self.wait_status()

    def spawn(self, name, *args):
        p = subprocess.Popen([os.path.join(self.bin, name), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
        self.procs.append(p)
        return p

    def wait_status(self):
        for _ in range(200):
            if self.hive("status").returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("honeycombd did not come up")

    def drone(self, name, slots, log_level="warn"):
        d = self.spawn("drone", "--honeycomb", self.url, "--name", name, "--slots", str(slots), "--log-level", "info")
        while "event=joined" not in d.stderr.readline():
            pass
        # Drained from then on: a drone that logs per task (older builds did, at info) must never block on a full pipe.
        self.procs.append(subprocess.Popen(["cat"], stdin=d.stderr, stdout=subprocess.DEVNULL))
        return d

    def hive(self, *args, timeout=600):
        return subprocess.run([os.path.join(self.bin, "hive"), *args, "--honeycomb", self.url] if args[0] != "bench-control"
                              else [os.path.join(self.bin, "hive"), *args, "--url", self.url],
                              capture_output=True, text=True, timeout=timeout)

    def bench(self, *args):
        r = self.hive("bench-control", *args)
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        return json.loads(r.stdout)

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


def throughput(bin_dir, rounds):
    hive = Hive(bin_dir)
    try:
        for i in range(8):
            hive.drone(f"d{i}", 64)
        rates = hive.bench("--mode", "throughput", "--tasks", "20000", "--rounds", str(rounds))["rates"]
        lat = [hive.bench("--mode", "latency", "--goals", "500") for _ in range(3)]
    finally:
        hive.stop()
    memory = Hive(bin_dir, journal=False)
    try:
        for i in range(8):
            memory.drone(f"d{i}", 64)
        lat_mem = [memory.bench("--mode", "latency", "--goals", "500") for _ in range(3)]
    finally:
        memory.stop()
    return rates, lat, lat_mem


def scaling(bin_dir, slots_list, sleep_ms=100, waves=4):
    out = {}
    for slots in slots_list:
        hive = Hive(bin_dir)
        try:
            drones = 1 if slots < 4 else 4
            for i in range(drones):
                hive.drone(f"s{i}", max(1, slots // drones))
            tasks = slots * waves
            runs = [hive.bench("--mode", "sleep", "--tasks", str(tasks), "--sleep-ms", str(sleep_ms))["seconds"] for _ in range(3)]
            t = statistics.median(runs)
            ideal = waves * sleep_ms / 1000
            out[slots] = (tasks, t, ideal / t)
        finally:
            hive.stop()
    return out


def recovery(bin_dir, heartbeat_ms=1000, lost_ms=1500, trials=3):
    results = []
    for _ in range(trials):
        hive = Hive(bin_dir, heartbeat_ms, lost_ms)
        try:
            a = hive.drone("victim", 1)
            plan = os.path.join(hive.tmp, "plan.json")
            with open(plan, "w") as f:
                json.dump({"root": {"kind": "sleep", "input": {"sleep_ms": 30000}, "max_attempts": 3}}, f)
            goal = hive.hive("submit", plan).stdout.strip()
            while True:
                tasks = json.loads(hive.hive("tasks", goal, "--json").stdout)
                if tasks[0]["state"] in ("leased", "running"):
                    break
                time.sleep(0.01)
            hive.drone("rescuer", 1)
            t0 = time.monotonic()
            a.send_signal(signal.SIGKILL)
            while True:
                t = json.loads(hive.hive("tasks", goal, "--json").stdout)[0]
                if t["attempts"] >= 2 and t["state"] in ("leased", "running"):
                    results.append(time.monotonic() - t0)
                    break
                time.sleep(0.01)
        finally:
            hive.stop()
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    rates, lat, lat_mem = throughput(args.bin, args.rounds)
    print("## Control plane\n")
    print(f"Dispatch throughput, no-op tasks, one 20,000-task fork, 8 drones × 64 slots, journal on disk: median of {args.rounds}\n")
    print(f"| metric | value |\n| --- | ---: |")
    print(f"| tasks/s end to end (submit → all results joined) | {statistics.median(rates):,.0f} |")
    print(f"| runs | {', '.join(f'{r:,.0f}' for r in rates)} |")
    print(f"| one-task goal, submit → end announced, p50 (µs) | {statistics.median(l['p50_us'] for l in lat):,.0f} |")
    print(f"| one-task goal, submit → end announced, p99 (µs) | {statistics.median(l['p99_us'] for l in lat):,.0f} |")
    print(f"| same without a journal (dispatch alone), p50 (µs) | {statistics.median(l['p50_us'] for l in lat_mem):,.0f} |")
    print(f"| same without a journal (dispatch alone), p99 (µs) | {statistics.median(l['p99_us'] for l in lat_mem):,.0f} |")

    scale = scaling(args.bin, [1, 4, 16, 64])
    print("\nScaling: tasks that each wait 100 ms (a stand-in for model latency), 4 waves per slot count, median of 3\n")
    print("| slots | tasks | seconds | ideal | efficiency (ideal/measured) |\n| ---: | ---: | ---: | ---: | ---: |")
    for slots, (tasks, t, eff) in scale.items():
        print(f"| {slots} | {tasks} | {t:.3f} | 0.400 | {eff:.3f}× |")

    rec = recovery(args.bin)
    print("\nRecovery: SIGKILL of the drone running a task → the task running on another drone (heartbeat 1,000 ms, lost after 1,500 ms)\n")
    print("| trial | seconds | heartbeat intervals |\n| ---: | ---: | ---: |")
    for i, r in enumerate(rec):
        print(f"| {i + 1} | {r:.3f} | {r / 1.0:.2f} |")
    print(f"\nmedian recovery {statistics.median(rec):.3f} s = {statistics.median(rec):.2f} heartbeat intervals")


if __name__ == "__main__":
    main()
