#!/usr/bin/env python3
"""Concurrent submits on the file journal (`make bench-submit`): N one-task goals submitted at once from one nats-py
client (all N requests in flight), answered once the journal holds them. Per round: submits/s (first publish to
last reply), the journal's group commits (fdatasyncs: `hive_journal_sync_seconds_count` on /metrics) and
honeycombd's CPU per submit (utime+stime from /proc). With --anchor-bin the two builds alternate round by round, a
fresh honeycombd (embedded broker, empty data directory) each round; the medians are printed as markdown.
"""
import argparse, asyncio, json, os, re, shutil, signal, statistics, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from broker_bench import free_port
from processes import cpu_seconds

import nats as nats_py

NOOP = json.dumps({"root": {"kind": "noop"}}).encode()


def syncs(http):
    text = urllib.request.urlopen(f"http://{http}/metrics", timeout=10).read().decode()
    m = re.search(r"^hive_journal_sync_seconds_count(?:\{[^}]*\})? (\d+)", text, re.M)
    return int(m.group(1)) if m else 0


async def burst(url, n):
    nc = await nats_py.connect(url)
    try:
        start = time.monotonic()
        replies = await asyncio.gather(*[nc.request("hive.v1.api.submit", NOOP, timeout=120) for _ in range(n)])
        took = time.monotonic() - start
        bad = [r.data for r in replies if "goal" not in json.loads(r.data)]
        if bad:
            raise RuntimeError(f"{len(bad)} submits failed: {bad[0][:200]!r}")
        return took
    finally:
        await nc.close()


def one_round(bin_dir, n):
    tmp = tempfile.mkdtemp(prefix="hive-submit-bench-")
    port, http = free_port(), f"127.0.0.1:{free_port()}"
    hc = subprocess.Popen([os.path.join(bin_dir, "honeycombd"), "--listen", f"127.0.0.1:{port}", "--data", tmp,
                           "--http", http, "--log-level", "warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):
            try:
                syncs(http)
                break
            except OSError:
                time.sleep(0.05)
        url = f"nats://127.0.0.1:{port}"
        asyncio.run(burst(url, 1))  # the first goal: connection set up, journal opened
        s0, c0 = syncs(http), cpu_seconds(hc.pid)
        took = asyncio.run(burst(url, n))
        s1, c1 = syncs(http), cpu_seconds(hc.pid)
        return {"rate": n / took, "syncs": s1 - s0, "cpu_ms": (c1 - c0) * 1000 / n}
    finally:
        hc.send_signal(signal.SIGTERM)
        try:
            hc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            hc.kill()
            hc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", required=True, help="directory with this build's honeycombd")
    ap.add_argument("--anchor-bin", help="a baseline build's directory, alternated with --bin in the same run")
    ap.add_argument("--submits", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    builds = [("anchor", a.anchor_bin)] if a.anchor_bin else []
    builds.append(("this", a.bin))
    rows = {name: [] for name, _ in builds}
    for r in range(a.rounds):
        for name, path in (builds if r % 2 == 0 else builds[::-1]):
            m = one_round(path, a.submits)
            rows[name].append(m)
            print(f"round={r} build={name} submits_per_s={m['rate']:.0f} fdatasyncs={m['syncs']} cpu_ms_per_submit={m['cpu_ms']:.2f}",
                  file=sys.stderr, flush=True)
    print(f"\n{a.submits} concurrent one-task submits, file journal, medians of {a.rounds}\n")
    print("| build | submits/s | fdatasyncs | honeycombd CPU ms/submit |")
    print("|---|---:|---:|---:|")
    for name, ms in rows.items():
        print(f"| {name} | {statistics.median(m['rate'] for m in ms):.0f} | {statistics.median(m['syncs'] for m in ms):.0f} "
              f"| {statistics.median(m['cpu_ms'] for m in ms):.2f} |")


if __name__ == "__main__":
    main()
