#!/usr/bin/env python3
"""`make demo`: honeycombd on the embedded defaults, drones of each tier, a goal forked across them, the result.

Everything runs on loopback from the release binaries, with the journal in a temporary directory.
"""
import argparse, json, os, shutil, signal, socket, subprocess, sys, tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--model", help="an instruct GGUF of your own for every drone (default: a generated test model)")
    args = ap.parse_args()
    bin_ = lambda name: os.path.join(args.bin, name)

    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    port = free_port()
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

    # Every drone serves a model: yours with MODEL=path.gguf, else a generated one when PyPI's gguf is installed
    # (random weights: its text is noise, but every call really runs through llama.cpp).
    model = args.model
    if not model:
        try:
            import gguf  # noqa: F401
            model = os.path.join(data, "tiny.gguf")
            subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "..", "models", "make_test_model.py"),
                            model], check=True)
        except ImportError:
            pass
    own_model = bool(args.model)
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    try:
        http_port = free_port()
        start([bin_("honeycombd"), "--listen", f"127.0.0.1:{port}", "--data", data, "--http", f"127.0.0.1:{http_port}",
               "--prompts", os.path.join(root, "Config", "prompts")], "event=bus_connected")
        print(f"  (the Beekeeper dashboard is at http://127.0.0.1:{http_port}/ while the demo runs)")
        for tier, slots in (("edge", 2), ("worker", 2), ("core", 1)):
            extra = ["--model", model, "--ctx", "4096" if own_model else "2048"] if model else []
            start([bin_("drone"), "--honeycomb", url, "--tier", tier, "--name", f"{tier}-1", "--slots", str(slots),
                   "--allow-exec", "/bin/sh", *extra], "event=joined")
        hive("drones")
        r = hive("submit", "--exec", "/bin/sh", "-c", "echo \"part $HIVE_TASK_INDEX of the goal, done on $(hostname)\"",
                 "--count", "12", "--wait")
        if r.returncode != 0:
            sys.exit(r.returncode)
        hive("trace", "g1")
        plans = os.path.join(os.path.dirname(__file__), "..", "..", "Config", "plans")
        v = hive("submit", os.path.relpath(os.path.join(plans, "vote.json")), "--wait")
        if v.returncode != 0:
            sys.exit(v.returncode)
        if model:
            # The real job: a goal in words. The architect (core) plans it as JSON constrained to the plan schema,
            # edge drones explore each subtask twice, a worker critic scores every candidate, the core integrates.
            m = hive("submit", "Plan a weekend workshop that teaches six people to keep bees", "--tier", "edge",
                     "--critic-tier", "worker", "--n", "2", "--max-tokens", "256" if own_model else "32",
                     "--max-core-calls", "4", "--wait")
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
    print("second had five solvers vote on one answer (one of them careless).")
    if model:
        print("The third was a goal in words: the core drone's architect wrote the plan, edge drones explored each")
        print("subtask, a worker judged every candidate (the * marks the one used), the core integrated; the ledger")
        print("shows the core tier's share of the calls." + ("" if own_model else " The generated model writes noise:"))
        if not own_model:
            print("run `make demo MODEL=path/to/instruct.gguf` to see the same machinery with a real model.")
    print("The trace shows the first goal's twelve tasks running side by side on the drones (hive trace; the same")
    print("spans go to an OpenTelemetry collector with --otlp). Every state change went through the journal.")
    print("Plans of your own: Docs/PLANS.md; running a hive for real: Docs/OPERATIONS.md.")


if __name__ == "__main__":
    main()
