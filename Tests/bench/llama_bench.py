#!/usr/bin/env python3
"""Model speed: the drone's llama path vs llama.cpp's own tools, same GGUF, same threads, one run.

Part 1, one sequence: `llama-bench -p P -n N -t T` vs `drone bench` (prompt processing and generation tokens/s).
Part 2, continuous batching: `llama-batched-bench -npp P -ntg N -npl 4,8,16` vs `drone bench --parallel K` (K
concurrent tasks through the drone's backend): aggregate generation tokens/s over the decode steps that carry
only generated tokens (batched-bench's S_TG) and all tokens over the wall time (its S).
Part 3, candidates: `drone bench --parallel 8 --shared-prompt` (8 sampled candidates of one prompt) against one
greedy call of the same prompt, timed in the same process.
Part 4, JSON under a grammar: `drone bench --json-schema default` (a completion prompt that asks for a JSON object,
its schema's grammar) at temperature 0 and 0.8: generated tokens/s free, with the grammar applied to the whole
vocabulary every token (`grammar_first`, the old path), and with the drawn token checked first (the default).

Models: the real Gemma 3 270M (`make model`) when present, and the generated random-weight bench model
(Tests/models/make_test_model.py --size bench). The tools alternate for --rounds rounds; the tables give medians.
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
p.n_ctx, p.n_batch, p.n_ubatch, p.n_threads, p.n_threads_batch = 1024, 512, 512, int(sys.argv[2]), int(sys.argv[2])
p.kv_unified = True
c = llama_cpp.llama_init_from_model(m, p)
print((time.perf_counter() - t0) * 1000)
"""

m = statistics.median


def run_json(cmd):
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def single(args, model, rounds):
    """llama-bench vs drone bench, one sequence."""
    ref_pp, ref_tg, our_pp, our_tg, load, ref_load = [], [], [], [], [], []
    probe_env = {**os.environ, "LD_LIBRARY_PATH": args.llama_lib, "LLAMA_CPP_LIB_PATH": args.llama_lib}
    for r in range(rounds):
        for row in run_json([args.llama_bench, "-m", model, "-p", str(args.prompt), "-n", str(args.gen),
                             "-t", str(args.threads), "-r", "3", "-o", "json"]):
            (ref_pp if row["n_prompt"] > 0 else ref_tg).append(row["avg_ts"])
        ours = run_json([args.drone, "bench", "--model", model, "--prompt-tokens", str(args.prompt),
                         "--gen-tokens", str(args.gen), "--threads", str(args.threads), "--runs", "3"])
        assert ours["prompt_tokens"] == args.prompt, ours
        our_pp.append(statistics.mean(ours["pp_tps"]))
        our_tg.append(statistics.mean(ours["tg_tps"]))
        load.append(ours["load_ms"])
        probe = subprocess.run([sys.executable, "-c", LOAD_PROBE, model, str(args.threads)], env=probe_env,
                               capture_output=True, text=True)
        if probe.returncode == 0:
            ref_load.append(float(probe.stdout.strip().splitlines()[-1]))
        print(f"  single, round {r + 1}/{rounds} done", file=sys.stderr)
    print("| metric | drone (Hive) | llama-bench (llama.cpp) | ratio |\n| --- | ---: | ---: | ---: |")
    print(f"| prompt processing (tokens/s) | {m(our_pp):,.0f} | {m(ref_pp):,.0f} | {m(our_pp) / m(ref_pp):.2f}× |")
    print(f"| generation (tokens/s) | {m(our_tg):,.0f} | {m(ref_tg):,.0f} | {m(our_tg) / m(ref_tg):.2f}× |")
    if ref_load:
        print(f"| model + context load (ms; anchor: llama.cpp's calls via llama-cpp-python) | {m(load):.1f} | "
              f"{m(ref_load):.1f} | {m(ref_load) / m(load):.2f}× |")
    else:
        print(f"| model + context load (ms) | {m(load):.1f} | — (pip install llama-cpp-python for the anchor) | — |")


def batched_bench(args, model, parallel, unified):
    """llama-batched-bench's rows (jsonl) for each parallel count: {pl: (S_TG, S)}."""
    ctx = max(parallel) * (args.prompt + args.gen)
    cmd = [args.llama_batched_bench, "-m", model, "-c", str(ctx), "-b", "512", "-ub", "512",
           "-npp", str(args.prompt), "-ntg", str(args.gen), "-npl", ",".join(map(str, parallel)),
           "-t", str(args.threads), "-tb", str(args.threads), "--output-format", "jsonl"] + (["-kvu"] if unified else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    rows = {}
    for line in (out.stdout + out.stderr).splitlines():
        if line.startswith("{") and '"speed_tg"' in line:
            row = json.loads(line)
            rows[row["pl"]] = (row["speed_tg"], row["speed"])
    return rows


def drone_parallel(args, model, n, shared=False, prompt=None, gen=None):
    prompt, gen = prompt or args.prompt, gen or args.gen
    # --ctx: what each sequence needs, as batched-bench sizes its streams (llama.cpp pads both to 256 cells).
    cmd = [args.drone, "bench", "--model", model, "--prompt-tokens", str(prompt), "--gen-tokens", str(gen),
           "--ctx", str(prompt + gen + 1), "--threads", str(args.threads), "--runs", "1", "--parallel", str(n)]
    return run_json(cmd + (["--shared-prompt"] if shared else []))


def batched(args, model, rounds):
    """llama-batched-bench (its default cache layout and with -kvu, the drone's) vs drone bench --parallel."""
    parallel = [4, 8, 16]
    ref, ref_kvu = {n: [] for n in parallel}, {n: [] for n in parallel}
    ours = {n: [] for n in parallel}
    for r in range(rounds):
        for pl, v in batched_bench(args, model, parallel, unified=False).items():
            ref[pl].append(v)
        for pl, v in batched_bench(args, model, parallel, unified=True).items():
            ref_kvu[pl].append(v)
        for n in parallel:
            d = drone_parallel(args, model, n)
            assert d["prompt_evaluated"][0] == n * args.prompt, d  # distinct prompts: nothing shared
            ours[n].append((d["tg_tps"][0], d["total_tps"][0]))
        print(f"  batched, round {r + 1}/{rounds} done", file=sys.stderr)
    print("| parallel sequences | drone generation (tokens/s) | batched-bench S_TG | ratio | batched-bench -kvu S_TG "
          "| drone all tokens / wall (tokens/s) | batched-bench S | ratio |\n"
          "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in parallel:
        tg, s = m([o[0] for o in ours[n]]), m([o[1] for o in ours[n]])
        rtg, rs = m([v[0] for v in ref[n]]), m([v[1] for v in ref[n]])
        ktg = m([v[0] for v in ref_kvu[n]])
        print(f"| {n} | {tg:,.0f} | {rtg:,.0f} | {tg / rtg:.2f}× | {ktg:,.0f} | {s:,.0f} | {rs:,.0f} | {s / rs:.2f}× |")


def candidates(args, model, rounds, n=8):
    """n sampled candidates of one prompt vs one greedy call: at the benchmark's lengths, and prompt-heavy."""
    shapes = [(args.prompt, args.gen), (args.prompt * 4, max(1, args.gen // 4))]
    rows = {shape: ([], [], []) for shape in shapes}
    for r in range(rounds):
        for shape in shapes:
            d = drone_parallel(args, model, n, shared=True, prompt=shape[0], gen=shape[1])
            for column, value in zip(rows[shape], (d["wall_ms"][0], d["single_wall_ms"][0], d["prompt_evaluated"][0])):
                column.append(value)
        print(f"  candidates, round {r + 1}/{rounds} done", file=sys.stderr)
    print(f"| prompt / generated tokens | {n} sampled candidates of one prompt (ms) | one greedy call (ms) | ratio "
          "| prompt tokens evaluated |\n| --- | ---: | ---: | ---: | ---: |")
    for (p, g), (walls, singles, evaluated) in rows.items():
        print(f"| {p} / {g} | {m(walls):,.0f} | {m(singles):,.0f} | {m(walls) / m(singles):.2f}× | "
              f"{m(evaluated):.0f} (of {n} × {p}) |")


def grammar(args, model, rounds):
    """Generation tokens/s under a JSON Schema's grammar vs free text, one engine, the three ways alternating."""
    print("| temperature | free (tokens/s) | grammar applied every token | drawn token checked first | checked / free "
          "| checked / grammar-first | tokens the grammar allowed as drawn |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for temperature in (0, 0.8):
        d = run_json([args.drone, "bench", "--model", model, "--json-schema", "default", "--runs", str(rounds),
                      "--threads", str(args.threads), "--gen-tokens", str(args.gen), "--temperature", str(temperature)])
        free, first, checked = m(d["free_tps"]), m(d["grammar_first_tps"]), m(d["checked_tps"])
        print(f"| {temperature} | {free:,.1f} | {first:,.1f} | {checked:,.1f} | {checked / free:.2f}× | "
              f"{checked / first:.2f}× | {m(d['checked_share']) * 100:.0f}% |")
        print(f"  grammar at {temperature}: first output {d['sample']!r}, tokens {d['checked_tokens']}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--drone", required=True)
    ap.add_argument("--llama-bench", required=True)
    ap.add_argument("--llama-batched-bench", help="llama.cpp's llama-batched-bench (parts 2 and 3 need it)")
    ap.add_argument("--gemma", default=os.path.expanduser("~/.cache/hive/models/gemma-3-270m-q4_k_m.gguf"),
                    help="the real model (make model); skipped when absent")
    ap.add_argument("--prompt", type=int, default=256)
    ap.add_argument("--gen", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--parts", default="single,batched,candidates,grammar")
    ap.add_argument("--llama-lib", default=os.path.expanduser("~/.cache/hive/llama-0.3.36-x86_64/lib"),
                    help="the llama.cpp library directory, for the load-time anchor (needs PyPI llama-cpp-python)")
    args = ap.parse_args()
    parts = args.parts.split(",")
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    bench_model = os.path.join(tempfile.mkdtemp(prefix="hive-llama-bench-"), "bench.gguf")
    subprocess.run([sys.executable, os.path.join(root, "Tests", "models", "make_test_model.py"), bench_model,
                    "--size", "bench"], check=True)
    models = [("random-weight llama GGUF, 512 wide, 6 layers, F16", bench_model)]
    if os.path.exists(args.gemma):
        models.insert(0, ("Gemma 3 270M, Q4_K_M", args.gemma))
    else:
        print(f"({args.gemma} is absent: run `make model` for the real model's rows)", file=sys.stderr)
    for name, model in models:
        print(f"\n### {name} ({os.path.getsize(model) / 1e6:.0f} MB); {args.threads} threads; prompt {args.prompt} "
              f"tokens, generation {args.gen} tokens; medians of {args.rounds} rounds\n")
        if "single" in parts:
            single(args, model, args.rounds)
            print()
        if args.llama_batched_bench and "batched" in parts:
            batched(args, model, args.rounds)
            print()
        if "candidates" in parts and model == args.gemma:
            candidates(args, model, args.rounds)
            print()
        if "grammar" in parts and model == args.gemma:
            grammar(args, model, args.rounds)


if __name__ == "__main__":
    main()
