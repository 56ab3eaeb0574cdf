#!/usr/bin/env python3
"""Dispatch throughput by journal, in the same run (`make bench-journal`): honeycombd on an external nats-server
with the file journal (--data, the anchor), with the journal in a JetStream stream on that server (replicas 1),
and on a 3-node JetStream cluster with replicas 3 (beside the file journal on the same cluster). Same workload as
control_bench's throughput rows (8 drones x 64 slots, 20,000 tasks per round by default); the configurations
alternate round by round and the medians are printed as markdown.
"""
import argparse, json, os, shutil, signal, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(__file__))
from broker_bench import free_port
from control_bench import Hive


class NATSCluster:
    """`size` nats-server processes with JetStream (a store each), routed when more than one."""
    def __init__(self, size):
        self.tmp = tempfile.mkdtemp(prefix="hive-js-bench-")
        self.ports = [free_port() for _ in range(size)]
        routes = [free_port() for _ in range(size)]
        self.procs = []
        for i in range(size):
            args = ["nats-server", "-a", "127.0.0.1", "-p", str(self.ports[i]), "-js", "-sd", os.path.join(self.tmp, f"n{i}"),
                    "-n", f"n{i}"]
            if size > 1:
                others = ",".join(f"nats://127.0.0.1:{routes[j]}" for j in range(size) if j != i)
                args += ["--cluster_name", "bench", "--cluster", f"nats://127.0.0.1:{routes[i]}", "--routes", others]
            self.procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.urls = ",".join(f"nats://127.0.0.1:{p}" for p in self.ports)

    def stop(self):
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            p.wait(timeout=15)
        shutil.rmtree(self.tmp, ignore_errors=True)


class ExternalHive(Hive):
    """honeycombd on `nats` (first URL is where drones and the bench connect), journaling per `journal`."""
    def __init__(self, bin_dir, nats, journal):
        self.bin = bin_dir
        self.url = nats.split(",")[0]
        self.tmp = tempfile.mkdtemp(prefix="hive-bench-")
        cfg = os.path.join(self.tmp, "hc.json")
        with open(cfg, "w") as f:
            # A generous lost-drone timeout: on a loaded machine a late heartbeat must not fail the measured goal.
            json.dump({"heartbeat_ms": 1000, "drone_lost_after_ms": 10000, "log_level": "warn", "http": "off"}, f)
        self.procs = []
        self.hc = self.spawn("honeycombd", "--config", cfg, "--nats", nats, *journal(self.tmp))
        for _ in range(600):
            if self.hive("status").returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("honeycombd did not come up: " + (self.hc.stderr.read() if self.hc.poll() is not None else "still starting"))


def measure(bin_dir, nats, journal, rounds, tasks):
    h = ExternalHive(bin_dir, nats, journal)
    try:
        for i in range(8):
            h.drone(f"d{i}", 64)
        return h.bench("--mode", "throughput", "--tasks", str(tasks), "--rounds", str(rounds))["rates"]
    finally:
        h.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--pairs", type=int, default=3, help="alternations of every configuration")
    ap.add_argument("--rounds", type=int, default=2, help="throughput rounds per honeycombd start")
    ap.add_argument("--tasks", type=int, default=20000, help="tasks per round")
    args = ap.parse_args()
    stream_no = iter(range(1_000_000))
    file_journal = lambda tmp: ["--data", os.path.join(tmp, "data")]
    js1 = lambda tmp: ["--journal", f"jetstream://B{next(stream_no)}", "--journal-create"]
    js3 = lambda tmp: ["--journal", f"jetstream://B{next(stream_no)}?replicas=3", "--journal-create"]
    single, cluster = NATSCluster(1), NATSCluster(3)
    configs = [("file journal, nats-server (anchor)", single.urls, file_journal),
               ("JetStream journal, replicas 1, same nats-server", single.urls, js1),
               ("file journal, 3-node cluster", cluster.urls, file_journal),
               ("JetStream journal, replicas 3, 3-node cluster", cluster.urls, js3)]
    rates = {name: [] for name, _, _ in configs}
    try:
        for pair in range(args.pairs):
            order = configs if pair % 2 == 0 else list(reversed(configs))
            for name, nats, journal in order:
                rates[name] += measure(args.bin, nats, journal, args.rounds, args.tasks)
    finally:
        single.stop()
        cluster.stop()
    anchor = statistics.median(rates[configs[0][0]])
    print("| journal | tasks/s (median) | vs anchor | runs |")
    print("|---|---:|---:|---|")
    for name, _, _ in configs:
        m = statistics.median(rates[name])
        print(f"| {name} | {m:,.0f} | {m / anchor:.2f} | {', '.join(f'{r:,.0f}' for r in rates[name])} |")


if __name__ == "__main__":
    main()
