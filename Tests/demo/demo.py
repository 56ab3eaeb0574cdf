#!/usr/bin/env python3
"""`make demo`: honeycombd on the embedded defaults, drones of each tier serving a real model, goals forked across
them, the results.

Everything runs on loopback from the release binaries, with the journal in a temporary directory. The model is
Gemma 3 270M (base; `make model` fetches it) unless MODEL= names another GGUF.
"""
import argparse, json, os, shlex, shutil, signal, socket, subprocess, sys, tempfile

GEMMA = os.path.join(os.path.expanduser("~"), ".cache", "hive", "models", "gemma-3-270m-q4_k_m.gguf")
# A few-shot completion prompt: a base model continues the pattern, and the answer ends at the line's end.
CAPITALS = ("Q: What is the capital of Italy?\nA: Rome\n\n"
            "Q: What is the capital of Japan?\nA: Tokyo\n\n"
            "Q: What is the capital of France?\nA:")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--model", help=f"the GGUF every drone serves (default: {GEMMA} when make model has fetched it, "
                                    "else a generated random-weight test model)")
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

    def hive(*a, timeout=120):
        cmd = [bin_("hive"), *a, "--honeycomb", url]
        print("\n$ hive " + " ".join(json.dumps(x) if "\n" in x else shlex.quote(x) for x in a))
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        print("  " + (r.stdout + r.stderr).strip().replace("\n", "\n  "))
        return r

    def quiet(*a):
        return json.loads(subprocess.run([bin_("hive"), *a, "--json", "--honeycomb", url], capture_output=True, text=True,
                                         timeout=60, check=True).stdout)

    def eval_goal(*a, timeout=600):
        """One `hive eval` task, shown as it runs, then its goal's candidates (text as the model wrote it)."""
        r = hive("eval", *a, timeout=timeout)
        if r.returncode != 0:
            sys.exit(r.returncode)
        goal = next(w for w in r.stdout.split() if w.startswith("g") and w[1:].isdigit())
        hive("result", goal)
        return goal

    def ledger(goal):
        """What the goal's model calls cost, in real tokens, and how fast the drones made them."""
        res = quiet("result", goal)
        calls = [t for t in res["tasks"] if t.get("usage")]
        prompt = sum(t["usage"]["prompt_tokens"] for t in calls)
        gen = sum(t["usage"]["generated_tokens"] for t in calls)
        gen_ms = sum(t["usage"].get("generation_ms", 0) for t in calls)
        wall = (res["ledger"] or {}).get("wall_ms", 0)
        print(f"  real tokens: {len(calls)} model calls, {prompt} prompt + {gen} generated; "
              + (f"{gen / gen_ms * 1000:.0f} generated tok/s per call (the drones' decode time)" if gen_ms else "")
              + (f", {(prompt + gen) / wall * 1000:.0f} tok/s over the goal's {wall / 1000:.1f} s" if wall else ""))
        return res

    # Every drone serves a real model: MODEL=path.gguf, else Gemma 3 270M (make demo fetches it first). Run by
    # hand without either, it falls back to a generated random-weight model: noise, but the same machinery.
    model = args.model or (GEMMA if os.path.exists(GEMMA) else None)
    if not model:
        try:
            import gguf  # noqa: F401
            model = os.path.join(data, "tiny.gguf")
            subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "..", "models", "make_test_model.py"),
                            model], check=True)
        except ImportError:
            pass
    real = model is not None and not model.startswith(data)
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    try:
        http_port = free_port()
        # A real model on a 2-core machine writes an architect's JSON plan (every token checked against the grammar
        # over Gemma's 262,144-token vocabulary) in tens of seconds: calls get 5 minutes instead of 1.
        config = os.path.join(data, "honeycombd.json")
        with open(config, "w") as f:
            json.dump({"task_timeout_ms": 300000}, f)
        start([bin_("honeycombd"), "--config", config, "--listen", f"127.0.0.1:{port}", "--data", data,
               "--http", f"127.0.0.1:{http_port}", "--prompts", os.path.join(root, "Config", "prompts")], "event=bus_connected")
        print(f"  (the Beekeeper dashboard is at http://127.0.0.1:{http_port}/ while the demo runs)")
        for tier, slots in (("edge", 2), ("worker", 2), ("core", 1)):
            extra = ["--model", model, "--ctx", "4096" if real else "2048"] if model else []
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
            # One prompt as given: a base model continues the few-shot pattern (greedy), a chat model answers it.
            p = hive("submit", "--prompt", CAPITALS, "--temperature", "0", "--max-tokens", "8", "--stop", "\n", "--wait")
            if p.returncode != 0:
                sys.exit(p.returncode)
            # Verified speculation: eight samples (temperature 1) of a sum the model often gets wrong; an exec drone
            # checks each with expr; the first that passes is the answer (* in the list), wrong ones are rejected.
            sums = eval_goal("--suite", "sums", "--count", "1", "--seed", "2", "--n", "8", "--temperature", "1")
            checks = [t for t in quiet("result", sums)["tasks"] if t.get("role") == "verify"]
            print("  the checks (an exec drone ran each with the candidate on stdin):")
            for t in checks:
                said = (t.get("output") or t.get("reason") or "").strip()
                how = f"exit {t['exit_code']}" if t.get("exit_code") is not None else t["state"]
                print(f"    {t['task']} {how}: {said}")
            ledger(sums)
            # A vote over a fact: five samples answer one question from the facts table; the answer most of them
            # gave wins (a belief every sample shares would win too: voting fixes noise, not misconceptions).
            ledger(eval_goal("--suite", "facts", "--count", "1", "--seed", "5", "--n", "5", "--temperature", "1"))
            # The real job: a goal in words. The architect (core) plans it as JSON constrained to the plan schema,
            # edge drones explore each subtask twice, a worker critic scores every candidate, the core integrates.
            # Each call is rendered with the frame for the drone's model: few-shot completion frames for a base model.
            m = hive("submit", "Plan a weekend workshop that teaches six people to keep bees", "--tier", "edge",
                     "--critic-tier", "worker", "--n", "2", "--max-tokens", "64" if real else "32",
                     "--max-core-calls", "4", "--wait", "--wait-timeout", "900", timeout=960)
            if m.returncode != 0:
                sys.exit(m.returncode)
            words = next(w for w in m.stdout.split() if w.startswith("g") and w[1:].isdigit())
            res = ledger(words)
            plan = next((s for s in res.get("steps") or [] if s["role"] == "decompose"), None)
            if plan and plan.get("output"):
                print("  the architect's plan, as the model wrote it (JSON under the plan grammar):")
                try:
                    text = json.dumps(json.loads(plan["output"]), indent=2)
                except ValueError:
                    text = plan["output"]
                print("    " + text.replace("\n", "\n    "))
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
        name = os.path.basename(model)
        print(f"The third was one prompt to {name} as given (its usage line: real prompt and generated tokens).")
        print("Then speculation with a checker: eight sampled answers to a sum, each checked by a program on an exec")
        print("drone, the first that passed used; and a vote: five sampled answers to a question from the facts table.")
        print("The last was a goal in words: the core drone's architect wrote the plan (JSON, constrained by a grammar),")
        print("edge drones explored each subtask, a worker judged every candidate (the * marks the one used), the core")
        print("integrated; the ledger shows the tokens spent and the core tier's share of the calls.")
        if real and model == GEMMA:
            print("The model is Gemma 3 270M by Google (base, Q4_K_M), used under the Gemma terms (saved beside it in")
            print(f"{os.path.dirname(GEMMA)}). A base model this small writes plausible text, not good plans:")
            print("the machinery is the point; `make demo MODEL=path/to/model.gguf` runs it with another model.")
        elif not real:
            print("The generated model writes noise: `make model` fetches Gemma 3 270M, which `make demo` uses.")
    print("The trace shows the first goal's twelve tasks running side by side on the drones (hive trace; the same")
    print("spans go to an OpenTelemetry collector with --otlp). Every state change went through the journal.")
    print("Plans of your own: Docs/PLANS.md; running a hive for real: Docs/OPERATIONS.md.")


if __name__ == "__main__":
    main()
