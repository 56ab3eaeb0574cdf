#!/usr/bin/env python3
"""`make demo`: start honeycombd on the embedded defaults, talk to it over the bus, drive traffic, stop it.

What exists today is the nervous system: the broker, the NATS client, and the control plane's status
endpoint. Drones and goals join this demo as their issues land.
"""
import argparse, os, signal, socket, subprocess, sys


def run(bin_dir, *args, timeout=300):
    cmd = [os.path.join(bin_dir, args[0]), *args[1:]]
    print("\n$ " + " ".join(args))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    text = (out.stdout + out.stderr).strip()
    print("  " + text.replace("\n", "\n  "))
    if out.returncode != 0:
        sys.exit(out.returncode)


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
    # Ready once the control plane is on the bus.
    while True:
        line = daemon.stderr.readline()
        if not line:
            sys.exit("honeycombd exited during start-up")
        print("  " + line.strip())
        if "event=bus_connected" in line:
            break
    try:
        run(args.bin, "hive", "status", "--honeycomb", url)
        run(args.bin, "hive", "bench", "--url", url, "--messages", "200000", "--requests", "2000")
    finally:
        daemon.send_signal(signal.SIGTERM)
        rest = daemon.communicate(timeout=10)[1]
        print(f"\n$ kill -TERM honeycombd   (exit {daemon.returncode})")
        for line in rest.strip().splitlines():
            print("  " + line)
    print("\nAny NATS client (nats-py, nats.go, the nats CLI) can use honeycombd's broker; on its defaults it"
          "\nlistens on nats://127.0.0.1:4222. Drones and `hive submit` arrive with the control-plane issues.")


if __name__ == "__main__":
    main()
