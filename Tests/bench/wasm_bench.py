#!/usr/bin/env python3
"""HiveWasm vs the toolchain's wasmkit, wabt's wasm-interp and native code, side by side in one run.

Three CPU-bound kernels written here in C (a prime sieve, SHA-256 over 1 MiB, recursive fib) are compiled twice
from the same source: to an import-free wasm32 module exporting `run() -> i32` (clang --target=wasm32 -O2), and
natively (gcc -O2) with a main that calls `run`. Every engine computes the same checksum (checked). Times are
whole-process wall clock, medians of --rounds runs; ratios are against native. HiveWasm also runs with fuel
metering on, to measure what metering costs.

    python3 Tests/bench/wasm_bench.py --hive .build/release/hive [--rounds 3] [--engines HiveWasm,wasmkit]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

KERNELS = {
    "sieve": r"""
static char flags[24000000];
__attribute__((export_name("run"))) int run(void) {
    int count = 0;
    for (int i = 0; i < (int)sizeof flags; i++) flags[i] = 1;
    for (int i = 2; i < (int)sizeof flags; i++)
        if (flags[i]) { count++; for (int j = 2 * i; j < (int)sizeof flags; j += i) flags[j] = 0; }
    return count;
}""",
    "sha256": r"""
typedef unsigned int u32;
static const u32 K[64] = {
 0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,0xd807aa98,0x12835b01,
 0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,
 0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,
 0x06ca6351,0x14292967,0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
 0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,0x19a4c116,0x1e376c08,
 0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,
 0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2};
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
static u32 H[8];
static void block(const unsigned char *p) {
    u32 w[64], a, b, c, d, e, f, g, h;
    for (int i = 0; i < 16; i++) w[i] = (u32)p[4*i] << 24 | (u32)p[4*i+1] << 16 | (u32)p[4*i+2] << 8 | p[4*i+3];
    for (int i = 16; i < 64; i++) {
        u32 s0 = ROR(w[i-15], 7) ^ ROR(w[i-15], 18) ^ (w[i-15] >> 3), s1 = ROR(w[i-2], 17) ^ ROR(w[i-2], 19) ^ (w[i-2] >> 10);
        w[i] = w[i-16] + s0 + w[i-7] + s1;
    }
    a = H[0]; b = H[1]; c = H[2]; d = H[3]; e = H[4]; f = H[5]; g = H[6]; h = H[7];
    for (int i = 0; i < 64; i++) {
        u32 t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        u32 t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
}
static unsigned char data[1 << 20];
__attribute__((export_name("run"))) int run(void) {
    for (int i = 0; i < (int)sizeof data; i++) data[i] = (unsigned char)(i * 31 + 7);
    u32 x = 0;
    for (int rep = 0; rep < 16; rep++) {
        const u32 init[8] = {0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19};
        for (int i = 0; i < 8; i++) H[i] = init[i];
        for (int off = 0; off < (int)sizeof data; off += 64) block(data + off);
        x = x * 31 + (H[0] ^ H[7]);
    }
    return (int)x;
}""",
    "fib": r"""
static unsigned fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
__attribute__((export_name("run"))) int run(void) { return (int)fib(35); }""",
}

NATIVE_MAIN = '\n#include <stdio.h>\nint main(void) { printf("%u\\n", (unsigned)run()); return 0; }\n'


def timed(cmd):
    start = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    elapsed = time.perf_counter() - start
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {r.stderr}")
    return elapsed, r.stdout


def checksum(engine, out):
    text = out.strip()
    if engine == "wasm-interp":
        text = text.split("i32:")[-1]
    elif engine == "wasmkit":
        text = text.split("i32(")[-1].rstrip(")]")
    return int(text) & 0xFFFFFFFF


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hive", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--engines", help="comma-separated subset to run (native is always run), e.g. HiveWasm")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="hive-wasm-bench-")
    rows = []
    try:
        for name, src in KERNELS.items():
            c = os.path.join(work, f"{name}.c")
            with open(c, "w") as f:
                f.write(src)
            with open(os.path.join(work, f"{name}_main.c"), "w") as f:
                f.write(src + NATIVE_MAIN)
            wasm, native = os.path.join(work, f"{name}.wasm"), os.path.join(work, f"{name}.native")
            subprocess.run(["clang", "--target=wasm32", "-O2", "-nostdlib", "-Wl,--no-entry", c, "-o", wasm], check=True)
            subprocess.run(["gcc", "-O2", "-Wno-attributes", os.path.join(work, f"{name}_main.c"), "-o", native], check=True)
            engines = {
                "native": [native],
                "HiveWasm": [args.hive, "wasm", "run", wasm, "--invoke", "run"],
                "HiveWasm+fuel": [args.hive, "wasm", "run", wasm, "--invoke", "run", "--fuel", "1000000000000000"],
                "wasmkit": ["wasmkit", "run", wasm, "run"],
                "wasm-interp": ["wasm-interp", wasm, "--run-all-exports"],
            }
            if args.engines:
                keep = {"native", *args.engines.split(",")}
                engines = {e: c for e, c in engines.items() if e in keep}
            times, sums = {}, {}
            for engine, cmd in engines.items():
                runs = []
                for _ in range(args.rounds if engine != "wasm-interp" else 1):
                    t, out = timed(cmd)
                    runs.append(t)
                    sums[engine] = checksum(engine.split("+")[0] if engine.startswith("HiveWasm") else engine, out)
                times[engine] = statistics.median(runs)
            if len(set(sums.values())) != 1:
                sys.exit(f"{name}: engines disagree: {sums}")
            rows.append((name, times))
        print(f"{'kernel':8} " + " ".join(f"{e:>22}" for e in rows[0][1]))
        for name, times in rows:
            base = times["native"]
            cells = [f"{times[e]:8.3f}s ({times[e] / base:6.1f}x)" for e in times]
            print(f"{name:8} " + " ".join(f"{c:>22}" for c in cells))
        for name, times in rows:
            if not {"HiveWasm+fuel", "wasm-interp", "wasmkit"} <= times.keys():
                continue
            print(f"{name}: fuel metering costs {100 * (times['HiveWasm+fuel'] / times['HiveWasm'] - 1):+.1f}%; "
                  f"HiveWasm is {times['wasm-interp'] / times['HiveWasm']:.0f}x faster than wasm-interp, "
                  f"{times['HiveWasm'] / times['wasmkit']:.2f}x wasmkit's time")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
