"""Failover time of an active/standby pair on a JetStream journal (issue 20): SIGKILL of the active honeycombd →
the standby's `event=serving`, with a journal of N noop tasks (each task is several journal records) written while
the standby stood by. Split into the lease's lapse (SIGKILL → `event=lease_acquired`, about two heartbeats,
the same for any build) and the takeover proper (`lease_acquired` → `serving`: reading the stream and rebuilding
the state, what a warm standby shortens). Also the standby's CPU (utime+stime) from its start to serving: a warm
standby applies while it stands by what a cold one applied at takeover.

    python3 Tests/bench/takeover_bench.py --bin .build/release --anchor-bin /path/to/main/.build/release \\
        --tasks 10000 --goals 1 --runs 5

Runs alternate A (anchor) and B (--bin), each on a fresh nats-server -js; prints every run and the medians.
"""
import argparse, json, os, signal, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(__file__))
from processes import cpu_seconds


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tail:
    """A process's stderr read on a thread, each line stamped with time.monotonic() as it arrived."""

    def __init__(self, proc):
        self.proc, self.lines, self.cond = proc, [], threading.Condition()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.proc.stderr:
            with self.cond:
                self.lines.append((time.monotonic(), line))
                self.cond.notify_all()
        with self.cond:
            self.lines.append((time.monotonic(), None))
            self.cond.notify_all()

    def wait(self, fragment, timeout):
        """The time and line of the first line holding `fragment`; exits the benchmark at the deadline."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for at, line in self.lines:
                    if line is None:
                        sys.exit(f"process exited before '{fragment}'")
                    if fragment in line:
                        return at, line
                left = deadline - time.monotonic()
                if left <= 0:
                    sys.exit(f"timed out waiting for '{fragment}'")
                self.cond.wait(left)


def field(line, key):
    for part in line.split():
        if part.startswith(key + "="):
            return part.split("=", 1)[1]
    return "-"


def one_run(bin_dir, tasks, goals, heartbeat_ms, compact_bytes):
    store = tempfile.mkdtemp(prefix="takeover-bench-")
    port = free_port()
    procs = []

    def start(cmd):
        p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        procs.append(p)
        return p, Tail(p)

    try:
        _, nats_tail = start(["nats-server", "-js", "-sd", store, "-p", str(port), "-a", "127.0.0.1"])
        nats_tail.wait("Server is ready", 30)
        url = f"nats://127.0.0.1:{port}"
        config = os.path.join(store, "hc.json")
        with open(config, "w") as f:
            f.write(json.dumps({"http": "off", **({"journal_compact_bytes": compact_bytes} if compact_bytes else {})}))
        hc = [os.path.join(bin_dir, "honeycombd"), "--config", config, "--nats", url, "--journal", "jetstream://HIVE",
              "--journal-create", "--leader-heartbeat-ms", str(heartbeat_ms)]
        active, active_tail = start(hc)
        active_tail.wait("event=serving", 60)
        standby, standby_tail = start(hc)
        standby_tail.wait("event=standby", 60)
        _, drone_tail = start([os.path.join(bin_dir, "drone"), "--honeycomb", url, "--name", "d0", "--slots", "256"])
        drone_tail.wait("event=joined", 60)
        r = subprocess.run([os.path.join(bin_dir, "hive"), "bench-control", "--url", url, "--mode", "throughput",
                            "--tasks", str(tasks), "--rounds", str(goals)], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            sys.exit(f"bench-control failed: {r.stderr}")
        # Killed as soon as the work ended: the standby goes on tailing through the lease's lapse.
        killed = time.monotonic()
        active.send_signal(signal.SIGKILL)
        acquired, _ = standby_tail.wait("event=lease_acquired", 60)
        serving, _ = standby_tail.wait("event=serving", 120)
        _, opened = standby_tail.wait("event=jetstream_opened", 1)
        cpu = cpu_seconds(standby.pid)
        return {"total_s": serving - killed, "lapse_s": acquired - killed, "takeover_s": serving - acquired,
                "read_at_takeover": field(opened, "read_at_takeover"), "events": field(opened, "events"),
                "standby_cpu_s": cpu,
                "standing_by": field(opened, "applied_while_standing_by") if "applied_while_standing_by" in opened
                else field(opened, "read_while_standing_by")}
    finally:
        for p in procs:
            p.kill()
            p.wait()
        subprocess.run(["rm", "-rf", store])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="folder with honeycombd, drone and hive (B)")
    ap.add_argument("--anchor-bin", help="the same from main (A), run alternately with B")
    ap.add_argument("--tasks", type=int, default=10000, help="noop tasks per goal (one goal's spec must fit max_payload)")
    ap.add_argument("--goals", type=int, default=1, help="goals of --tasks tasks, one after the other")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--heartbeat-ms", type=int, default=1000)
    ap.add_argument("--compact-bytes", type=int, help="honeycombd's journal_compact_bytes (default: its own, 64 MiB)")
    a = ap.parse_args()
    builds = ([("A", a.anchor_bin)] if a.anchor_bin else []) + [("B", a.bin)]
    results = {name: [] for name, _ in builds}
    for i in range(a.runs):
        for name, bin_dir in builds:
            r = one_run(bin_dir, a.tasks, a.goals, a.heartbeat_ms, a.compact_bytes)
            results[name].append(r)
            print(f"run {i + 1} {name}: total {r['total_s']:.3f} s = lapse {r['lapse_s']:.3f} + takeover {r['takeover_s']:.3f} "
                  f"(messages read standing by {r['standing_by']}, at takeover {r['read_at_takeover']}; journal events in the state {r['events']}; standby CPU {r['standby_cpu_s']:.2f} s)", flush=True)
    for name, bin_dir in builds:
        rs = results[name]
        print(f"{name} {bin_dir}: median total {statistics.median(r['total_s'] for r in rs):.3f} s, "
              f"lapse {statistics.median(r['lapse_s'] for r in rs):.3f} s, "
              f"takeover {statistics.median(r['takeover_s'] for r in rs):.3f} s, "
              f"standby CPU from start to serving {statistics.median(r['standby_cpu_s'] for r in rs):.2f} s over {len(rs)} runs")


if __name__ == "__main__":
    main()
