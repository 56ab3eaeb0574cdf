#!/usr/bin/env python3
"""`make demo`: start honeycombd on the embedded defaults, drive traffic through it, show the result.

What exists today is the broker (the hive's nervous system); drones and goals join this demo as their
issues land.
"""
import argparse, os, signal, socket, subprocess, sys, time

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"nats://127.0.0.1:{port}"
    print(f"$ honeycombd --listen 127.0.0.1:{port}")
    daemon = subprocess.Popen([os.path.join(args.bin, "honeycombd"), "--listen", f"127.0.0.1:{port}"],
                              stderr=subprocess.PIPE, text=True)
    print("  " + daemon.stderr.readline().strip())
    try:
        print(f"\n$ hive bench --url {url} --messages 200000 --requests 2000")
        out = subprocess.run([os.path.join(args.bin, "hive"), "bench", "--url", url, "--messages", "200000",
                              "--requests", "2000"], capture_output=True, text=True, timeout=300)
        print("  " + out.stdout.strip().replace("\n", "\n  "))
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            sys.exit(out.returncode)
    finally:
        daemon.send_signal(signal.SIGTERM)
        rest = daemon.communicate(timeout=10)[1]
        print(f"\n$ kill -TERM honeycombd   (exit {daemon.returncode})")
        for line in rest.strip().splitlines():
            print("  " + line)
    print("\nThe broker speaks the NATS protocol: point any NATS client (nats-py, nats.go) at", url.replace(str(port), "4222"),
          "\nwhen honeycombd runs on its defaults. Drones and `hive submit` arrive with the control-plane issues.")

if __name__ == "__main__":
    main()
