#!/usr/bin/env python3
"""Model speed: the drone's llama path vs llama.cpp's own llama-bench, same GGUF, same threads, one run.

Generates the benchmark GGUF (Tests/models/make_test_model.py --size bench, random weights, ~47 MB F16), then
alternates `llama-bench -p P -n N -t T` and `drone bench` for --rounds rounds and prints medians: prompt
processing and generation tokens/s, and their ratio. Model load time is the drone's (model + context).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile

# llama.cpp's own load path (model + context, same parameters as the drone), timed through llama-cpp-python's
# thin ctypes bindings in a fresh process: the anchor for the drone's load time.
LOAD_PROBE = """
import sys, time, llama_cpp
llama_cpp.llama_backend_init()
t0 = time.perf_counter()
m = llama_cpp.llama_model_load_from_file(sys.argv[1].encode(), llama_cpp.llama_model_default_params())
p = llama_cpp.llama_context_default_params()
p.n_ctx, p.n_batch, p.n_ubatch, p.n_threads, p.n_threads_batch = 1024, 1024, 512, int(sys.argv[2]), int(sys.argv[2])
c = llama_cpp.llama_init_from_model(m, p)
print((time.perf_counter() - t0) * 1000)
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--drone", required=True)
    ap.add_argument("--llama-bench", required=True)
    ap.add_argument("--prompt", type=int, default=256)
    ap.add_argument("--gen", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--llama-lib", default=os.path.expanduser("~/.cache/hive/llama-0.3.36-x86_64/lib"),
                    help="the llama.cpp library directory, for the load-time anchor (needs PyPI llama-cpp-python)")
    args = ap.parse_args()
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    model = os.path.join(tempfile.mkdtemp(prefix="hive-llama-bench-"), "bench.gguf")
    subprocess.run([sys.executable, os.path.join(root, "Tests", "models", "make_test_model.py"), model, "--size", "bench"],
                   check=True)
    ref_pp, ref_tg, our_pp, our_tg, load, ref_load = [], [], [], [], [], []
    probe_env = {**os.environ, "LD_LIBRARY_PATH": args.llama_lib, "LLAMA_CPP_LIB_PATH": args.llama_lib}
    for r in range(args.rounds):
        out = subprocess.run([args.llama_bench, "-m", model, "-p", str(args.prompt), "-n", str(args.gen),
                              "-t", str(args.threads), "-r", "3", "-o", "json"],
                             check=True, capture_output=True, text=True).stdout
        for row in json.loads(out):
            (ref_pp if row["n_prompt"] > 0 else ref_tg).append(row["avg_ts"])
        ours = json.loads(subprocess.run([args.drone, "bench", "--model", model, "--prompt-tokens", str(args.prompt),
                                          "--gen-tokens", str(args.gen), "--threads", str(args.threads), "--runs", "3"],
                                         check=True, capture_output=True, text=True).stdout)
        assert ours["prompt_tokens"] == args.prompt, ours
        our_pp.append(statistics.mean(ours["pp_tps"]))
        our_tg.append(statistics.mean(ours["tg_tps"]))
        load.append(ours["load_ms"])
        probe = subprocess.run([sys.executable, "-c", LOAD_PROBE, model, str(args.threads)], env=probe_env,
                               capture_output=True, text=True)
        if probe.returncode == 0:
            ref_load.append(float(probe.stdout.strip().splitlines()[-1]))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    m = statistics.median
    print(f"\nModel: random-weight llama GGUF, 512 wide, 6 layers, F16 ({os.path.getsize(model) / 1e6:.0f} MB); "
          f"{args.threads} threads; prompt {args.prompt} tokens, generation {args.gen} tokens; medians of "
          f"{args.rounds} rounds (each the mean of 3 repetitions)\n")
    print("| metric | drone (Hive) | llama-bench (llama.cpp) | ratio |\n| --- | ---: | ---: | ---: |")
    print(f"| prompt processing (tokens/s) | {m(our_pp):,.0f} | {m(ref_pp):,.0f} | {m(our_pp) / m(ref_pp):.2f}× |")
    print(f"| generation (tokens/s) | {m(our_tg):,.0f} | {m(ref_tg):,.0f} | {m(our_tg) / m(ref_tg):.2f}× |")
    if ref_load:
        print(f"| model + context load (ms; anchor: llama.cpp's calls via llama-cpp-python) | {m(load):.1f} | "
              f"{m(ref_load):.1f} | {m(ref_load) / m(load):.2f}× |")
    else:
        print(f"| model + context load (ms) | {m(load):.1f} | — (pip install llama-cpp-python for the anchor) | — |")


if __name__ == "__main__":
    main()
