#!/usr/bin/env python3
"""Broker and client benchmark: honeycombd's embedded broker vs nats-server, same client, same settings, one run.

Starts both servers on free loopback ports and runs `hive bench --json` against each in alternation
(--rounds times), twice per round: with the raw-socket client (measures the brokers) and with Hive's Swift
NATS client (what applications get). Prints medians side by side with their ratio. Throughput ratios are
ours/theirs; latency ratios are theirs/ours, so a ratio >= 1 always means Hive is at least as good. A last
table compares the Swift client with the raw socket writer, so the client's own overhead is visible.

TLS rows (--tls on, the default; --tls only for just these): a second pair of servers with the same certificate
(`honeycombd tls init`), measured with the raw-socket client over TLS (`hive bench --client raw --url tls://...
--tls-ca ca.pem`), so the brokers' handshake-free steady state — decrypt, route, encrypt — is what is timed.
"""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def wait_listening(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")

def start(cmd, port):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, proc)
    return proc

def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hive", required=True)
    ap.add_argument("--honeycombd", required=True)
    ap.add_argument("--nats-server", default=shutil.which("nats-server") or "nats-server")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--tls", choices=["on", "off", "only"], default="on",
                    help="also measure both servers over TLS (on), not at all (off), or only over TLS (only)")
    args = ap.parse_args()

    # (server, client) pairs measured; client "raw-tls" is the raw client over TLS against the TLS servers.
    servers, urls, clients = {}, {}, []
    certs = tempfile.mkdtemp(prefix="broker-bench-tls-")
    try:
        if args.tls != "only":
            hive_port, nats_port = free_port(), free_port()
            servers["honeycombd"] = start([args.honeycombd, "--listen", f"127.0.0.1:{hive_port}", "--log-level", "warn"],
                                          hive_port)
            servers["nats-server"] = start([args.nats_server, "-a", "127.0.0.1", "-p", str(nats_port)], nats_port)
            urls["honeycombd"], urls["nats-server"] = f"nats://127.0.0.1:{hive_port}", f"nats://127.0.0.1:{nats_port}"
            clients += ["raw", "swift"]
        if args.tls != "off":
            subprocess.run([args.honeycombd, "tls", "init", certs, "--host", "localhost"], check=True,
                           capture_output=True, timeout=60)
            cert, key, ca = (os.path.join(certs, f) for f in ("server.pem", "server-key.pem", "ca.pem"))
            hive_tls, nats_tls = free_port(), free_port()
            servers["honeycombd-tls"] = start([args.honeycombd, "--listen", f"127.0.0.1:{hive_tls}", "--log-level", "warn",
                                               "--http", "off", "--tls-cert", cert, "--tls-key", key], hive_tls)
            servers["nats-server-tls"] = start([args.nats_server, "-a", "127.0.0.1", "-p", str(nats_tls),
                                                "--tls", "--tlscert", cert, "--tlskey", key], nats_tls)
            urls["honeycombd-tls"], urls["nats-server-tls"] = f"tls://127.0.0.1:{hive_tls}", f"tls://127.0.0.1:{nats_tls}"
            clients += ["raw-tls"]
        results = {(name, c): {} for name in ("honeycombd", "nats-server") for c in clients}
        for r in range(args.rounds):
            for name in (["honeycombd", "nats-server"] if r % 2 == 0 else ["nats-server", "honeycombd"]):
                for client in clients:
                    server = name + "-tls" if client == "raw-tls" else name
                    cmd = [args.hive, "bench", "--client", "raw" if client == "raw-tls" else client,
                           "--url", urls[server], "--messages", str(args.messages), "--requests", str(args.requests),
                           "--size", str(args.size), "--json"]
                    if client == "raw-tls":
                        cmd += ["--tls-ca", os.path.join(certs, "ca.pem")]
                    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout
                    for row in json.loads(out):
                        for key in ("rate", "p50_us", "p99_us"):
                            if key in row:
                                results[(name, client)].setdefault((row["name"], key), []).append(row[key])
                print(f"round {r + 1}/{args.rounds} {name} done", file=sys.stderr)
    finally:
        for p in servers.values():
            stop(p)
        shutil.rmtree(certs, ignore_errors=True)

    labels = {
        ("pub_only", "rate"): "publish only (msgs/s)",
        ("pubsub_1to1", "rate"): "1→1 pub/sub (msgs/s)",
        ("fanout_1to8", "rate"): "1→8 fan-out (delivered msgs/s)",
        ("queue_1to4", "rate"): "1→4 queue group (msgs/s)",
        ("req_reply", "p50_us"): "request/reply p50 (µs)",
        ("req_reply", "p99_us"): "request/reply p99 (µs)",
    }
    def fmt(key, v):
        return f"{v:,.0f}" if key[1] == "rate" else f"{v:.0f}"

    def better_ratio(key, ours, theirs):
        return ours / theirs if key[1] == "rate" else theirs / ours

    print(f"\n{args.rounds} rounds, {args.messages} messages of {args.size} bytes, {args.requests} requests; medians")
    worst = {}
    titles = {"raw": "raw-socket client (measures the brokers)", "swift": "Hive's Swift NATSClient",
              "raw-tls": "TLS: raw-socket client over TLS 1.3, same certificate on both servers"}
    for client in clients:
        title = titles[client]
        print(f"\n### {title}\n")
        print("| scenario | honeycombd | nats-server | ratio |")
        print("| --- | ---: | ---: | ---: |")
        for key, label in labels.items():
            ours = statistics.median(results[("honeycombd", client)][key])
            theirs = statistics.median(results[("nats-server", client)][key])
            ratio = better_ratio(key, ours, theirs)
            worst[client] = min(worst.get(client, ratio), ratio)
            print(f"| {label} | {fmt(key, ours)} | {fmt(key, theirs)} | {ratio:.2f}× |")
    if "swift" not in clients:
        print("\nworst honeycombd/nats-server ratio: " + ", ".join(f"{c} client {worst[c]:.2f}×" for c in clients))
        return
    print("\n### Swift client vs raw socket writer (client overhead), on honeycombd\n")
    print("| scenario | Swift client | raw client | client/raw |")
    print("| --- | ---: | ---: | ---: |")
    for key, label in labels.items():
        c = statistics.median(results[("honeycombd", "swift")][key])
        raw = statistics.median(results[("honeycombd", "raw")][key])
        print(f"| {label} | {fmt(key, c)} | {fmt(key, raw)} | {better_ratio(key, c, raw):.2f}× |")
    print("\nworst honeycombd/nats-server ratio: " + ", ".join(f"{c} client {worst[c]:.2f}×" for c in clients))


if __name__ == "__main__":
    main()
