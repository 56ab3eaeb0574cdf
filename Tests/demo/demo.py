#!/usr/bin/env python3
"""`make demo`: honeycombd on the embedded defaults, drones of each tier, a goal forked across them, the result.

Everything runs on loopback from the release binaries, with the journal in a temporary directory.
"""
import argparse, json, os, shutil, signal, socket, subprocess, sys, tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    bin_ = lambda name: os.path.join(args.bin, name)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"nats://127.0.0.1:{port}"
    data = tempfile.mkdtemp(prefix="hive-demo-")
    procs = []

    def start(cmd, ready):
        print("$ " + " ".join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd)))
        p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        procs.append(p)
        while True:
            line = p.stderr.readline()
            if not line:
                sys.exit(f"{cmd[0]} exited during start-up")
            if ready in line:
                print("  " + line.strip())
                return p

    def hive(*a):
        cmd = [bin_("hive"), *a, "--honeycomb", url]
        print("\n$ hive " + " ".join(a))
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        print("  " + (r.stdout + r.stderr).strip().replace("\n", "\n  "))
        return r

    # The core drone also serves a model when PyPI's gguf is installed to make one (random weights: the text is
    # noise, the path is real). Bring your own GGUF with `drone --model`.
    model = None
    try:
        import gguf  # noqa: F401
        model = os.path.join(data, "tiny.gguf")
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "..", "models", "make_test_model.py"),
                        model], check=True)
    except ImportError:
        pass
    try:
        start([bin_("honeycombd"), "--listen", f"127.0.0.1:{port}", "--data", data], "event=bus_connected")
        for tier, slots in (("edge", 2), ("worker", 4), ("core", 1)):
            extra = ["--model", model] if tier == "core" and model else []
            start([bin_("drone"), "--honeycomb", url, "--tier", tier, "--name", f"{tier}-1", "--slots", str(slots),
                   "--allow-exec", "/bin/sh", *extra], "event=joined")
        hive("drones")
        r = hive("submit", "--exec", "/bin/sh", "-c", "echo \"part $HIVE_TASK_INDEX of the goal, done on $(hostname)\"",
                 "--count", "12", "--wait")
        if r.returncode != 0:
            sys.exit(r.returncode)
        plans = os.path.join(os.path.dirname(__file__), "..", "..", "Config", "plans")
        v = hive("submit", os.path.relpath(os.path.join(plans, "vote.json")), "--wait")
        if v.returncode != 0:
            sys.exit(v.returncode)
        if model:
            m = hive("submit", "--prompt", "What should the hive build next?", "--tier", "core", "--max-tokens", "24",
                     "--seed", "7", "--wait")
            if m.returncode != 0:
                sys.exit(m.returncode)
        hive("goals")
        hive("status")
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=15)
        shutil.rmtree(data, ignore_errors=True)
    print("\nThe first goal forked 12 exec tasks over the drones (each sees HIVE_TASK_INDEX) and joined them; the")
    print("second had five solvers vote on one answer (one of them careless). Every state change went through the")
    print("journal. Try `hive submit PLAN.json --wait` with a task tree of your own (Docs/PLANS.md).")


if __name__ == "__main__":
    main()
