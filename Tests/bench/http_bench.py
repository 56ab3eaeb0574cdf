#!/usr/bin/env python3
"""HTTP API and dashboard costs, side by side in one run (release binaries on loopback):

1. Scheduler throughput with vs without the dashboard's event stream attached: alternating rounds of
   `hive bench-control --mode throughput` (20,000 noop tasks on 8 drones) with no stream, with a client reading
   `/api/events` (the goal list the dashboard holds open), and with one reading every task's changes
   (`/api/events?tasks=all`, the heaviest stream there is). Goal: the dashboard's stream costs <= 5%.
2. HTTP requests/s and latency percentiles from wrk (Debian) on `/api/status` and `/api/drones`, idle and while
   the scheduler runs a steady 1,000 tasks/s (`--mode paced`).

    python3 Tests/bench/http_bench.py --bin .build/release [--rounds 5]
"""
import argparse, json, os, re, shutil, socket, statistics, subprocess, sys, threading, time

from broker_bench import free_port
from control_bench import Hive


class EventReader(threading.Thread):
    """Holds /api/events open and reads everything (a dashboard tab), counting frames."""

    def __init__(self, port, path="/api/events"):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        self.frames = 0
        self.stop = False

    def run(self):
        while not self.stop:
            try:
                data = self.sock.recv(1 << 16)
            except OSError:
                return
            if not data:
                return
            self.frames += data.count(b"\n\n")

    def close(self):
        self.stop = True
        self.sock.close()


def wrk(port, path, seconds=8, connections=32):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v if unit == "ms" else v * 1000
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": pct(50), "p99_ms": pct(99), "non2xx": int(errors.group(1)) if errors else 0}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")

    http_port = free_port()
    hive = Hive(args.bin, http=f"127.0.0.1:{http_port}")
    try:
        for i in range(8):
            hive.drone(f"d{i}", 64)
        hive.bench("--mode", "throughput", "--tasks", "5000", "--rounds", "1")  # warm-up
        variants = [("no event stream", None), ("the dashboard's goal list (`/api/events`)", "/api/events"),
                    ("every task's changes (`/api/events?tasks=all`)", "/api/events?tasks=all")]
        rates = {name: [] for name, _ in variants}
        frames = {name: [] for name, _ in variants}
        for _ in range(args.rounds):
            for name, path in variants:
                reader = EventReader(http_port, path) if path else None
                if reader:
                    reader.start()
                rates[name] += hive.bench("--mode", "throughput", "--tasks", "20000", "--rounds", "1")["rates"]
                if reader:
                    time.sleep(0.2)
                    reader.close()
                    frames[name].append(reader.frames)
        base = statistics.median(rates["no event stream"])
        print("## HTTP and the dashboard\n")
        print(f"Scheduler throughput, {args.rounds} alternating rounds of 20,000 noop tasks on 8 drones:\n")
        print("| event stream attached | tasks/s (median) | vs none | frames read per round | runs |")
        print("| --- | --- | --- | --- | --- |")
        for name, _ in variants:
            m = statistics.median(rates[name])
            f = f"{statistics.median(frames[name]):,.0f}" if frames[name] else "—"
            print(f"| {name} | {m:,.0f} | {m / base:.3f}x | {f} | {', '.join(f'{r:,.0f}' for r in rates[name])} |")
        print()

        results = {}
        for label, loaded in (("idle", False), ("while scheduling 1,000 tasks/s", True)):
            for path in ("/api/status", "/api/drones"):
                runs = []
                for _ in range(3):
                    load = None
                    if loaded:
                        load = subprocess.Popen([os.path.join(args.bin, "hive"), "bench-control", "--mode", "paced", "--rate", "1000",
                                                 "--seconds", "12", "--url", hive.url], stdout=subprocess.PIPE, text=True)
                        time.sleep(2)
                    runs.append(wrk(http_port, path))
                    if load:
                        achieved = json.loads(load.communicate(timeout=120)[0])["rate"]
                        runs[-1]["achieved"] = achieved
                results[(label, path)] = runs
        print("HTTP with wrk (2 threads, 32 connections, 8 s; medians of 3):\n")
        print("| load | route | requests/s | p50 | p99 | scheduler tasks/s achieved |")
        print("| --- | --- | --- | --- | --- | --- |")
        for (label, path), runs in results.items():
            med = lambda k: statistics.median(r[k] for r in runs)
            achieved = f"{statistics.median(r['achieved'] for r in runs):,.0f}" if "achieved" in runs[0] else "—"
            bad = sum(r["non2xx"] for r in runs)
            print(f"| {label} | `{path}` | {med('rps'):,.0f} | {med('p50_ms'):.2f} ms | {med('p99_ms'):.2f} ms | {achieved} |"
                  + (f" ({bad} non-2xx)" if bad else ""))
    finally:
        hive.stop()


if __name__ == "__main__":
    main()
