"""The processes a benchmark starts (honeycombd, drones) and `hive eval` against them: one home for the cognition
benchmarks' start-up, shut-down and eval helpers.

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
