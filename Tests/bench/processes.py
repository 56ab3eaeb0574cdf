"""The processes a benchmark starts (honeycombd, drones) and `hive eval` against them: one home for the cognition
benchmarks' start-up, shut-down and eval helpers, and for every benchmark's reading of a process's CPU and memory
(`cpu_seconds`, `rss_kb`), the load average, and the simulated-drone swarm's command line (`swarm_command`).

Unlike Tests/cli/conftest's `Procs` (pytest fixtures, debug binaries, per-test scratch), a benchmark runs release
binaries from `--bin` for minutes and must never block on a chatty process's full stderr pipe.
"""
import json, os, signal, subprocess, sys


class BenchProcesses:
    """Processes started with `start`, all stopped by `stop` (SIGTERM, then SIGKILL after `timeout` seconds)."""

    def __init__(self, bin_dir):
        self.bin = bin_dir
        self.procs = []

    def path(self, name):
        """The executable `name` (honeycombd, drone, hive) in the benchmark's --bin folder."""
        return os.path.join(self.bin, name)

    def start(self, cmd, ready):
        """Starts `cmd` and returns once its stderr says `ready` (e.g. `event=joined`); exits the benchmark if the
        process ends first. Its stderr is drained from then on, so it never blocks on a full pipe."""
        p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.procs.append(p)
        while ready not in (line := p.stderr.readline()):
            if not line:
                sys.exit(f"{cmd[0]} exited during start-up")
        subprocess.Popen(["cat"], stdin=p.stderr, stdout=subprocess.DEVNULL)
        return p

    @property
    def pids(self):
        return [p.pid for p in self.procs]

    def stop(self, timeout=10):
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()

    def hive_eval(self, url, *args, timeout=900):
        """`hive eval ARGS --json` against the hive at `url`; its JSON report (exits the benchmark on failure)."""
        r = subprocess.run([self.path("hive"), "eval", *args, "--json", "--honeycomb", url], capture_output=True,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            sys.exit(f"hive eval {' '.join(args)} failed: {r.stderr}")
        return json.loads(r.stdout)


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time of process `pid` so far (utime, stime: fields 14 and 15 of proc_pid_stat(5))."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_kb(pid):
    """Resident memory of process `pid` now, in KiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def swarm_command(bin_dir, url, drones, slots, seconds, tasks, rounds, *extra):
    """`hive bench-control --mode swarm`: one process holding `drones` simulated drones × `slots` on the bus at `url`
    (NATSBench's DroneSwarm: the real drone protocol, every no-op task answered at once), idle for `seconds`, then
    `rounds` forks of `tasks` no-op tasks."""
    return [os.path.join(bin_dir, "hive"), "bench-control", "--mode", "swarm", "--url", url, "--drones", str(drones),
            "--slots", str(slots), "--seconds", str(seconds), "--tasks", str(tasks), "--rounds", str(rounds), *extra]


def load_average():
    """The one-minute load average now, as /proc/loadavg writes it (benchmarks print it beside their figures)."""
    with open("/proc/loadavg") as f:
        return f.read().split()[0]
