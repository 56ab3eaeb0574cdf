"""Hostile clients on the bus: connection churn with auth on, NATS protocol garbage. honeycombd must stay up and
keep every goal it accepted; refused logins are warnings an operator sees, rate-limited."""
import json, os, random, signal, socket, threading, time

import pytest

from conftest import DRONE, hive, start_honeycombd, wait_for_log

AUTHS = {
    "token": (["--token", "s3cret"], "s3cret@"),
    "user-password": (["--user", "op", "--pass", "pw"], "op:pw@"),
}


def start(procs, tmp_path, auth_args):
    """honeycombd on port 0 (`.port`) with a journal and `auth_args`."""
    cfg = tmp_path / "hc.json"
    cfg.write_text(json.dumps({"heartbeat_ms": 200, "drone_lost_after_ms": 600, "http": "off"}))
    return start_honeycombd(procs, "--config", str(cfg), "--data", str(tmp_path / "data"), *auth_args, http=None)


def churn(port, seconds, kind):
    """Opens and closes connections as fast as one thread can, in one of several rude ways."""
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            if kind == "partial":
                s.sendall(b'CONNECT {"auth_tok')
            elif kind == "wrong":
                s.sendall(b'CONNECT {"auth_token":"nope","user":"x","pass":"y","verbose":false}\r\nPING\r\n')
            elif kind == "rst":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
            n += 1
        except OSError:
            pass
    return n


@pytest.mark.parametrize("auth", sorted(AUTHS))
def test_connection_churn_with_auth_neither_crashes_the_broker_nor_loses_a_goal(procs, tmp_path, auth):
    args, creds = AUTHS[auth]
    hc = start(procs, tmp_path, args)
    port = hc.port
    url = f"nats://{creds}127.0.0.1:{port}"
    r = hive("submit", "--exec", "/bin/echo", "--count", "3", "--json", "--honeycomb", url)
    assert r.returncode == 0, r.stderr
    goal = json.loads(r.stdout)["goal"]

    counts = {}
    threads = [threading.Thread(target=lambda k=k: counts.__setitem__(k, churn(port, 4, k)))
               for k in ("plain", "partial", "wrong", "rst")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts.values()) > 400, counts  # a few hundred per second
    assert hc.poll() is None, "honeycombd died under connection churn"

    # The broker still serves: the accepted goal is listed and runs to the end on a drone that joins now.
    drone = procs.start([DRONE, "--honeycomb", url, "--name", "d0", "--allow-exec", "/bin/echo"])
    wait_for_log(drone, "event=joined")
    r = hive("watch", goal, "--honeycomb", url, timeout=60)
    assert r.returncode == 0, r.stderr
    r = hive("goal", goal, "--json", "--honeycomb", url)
    assert json.loads(r.stdout)["state"] == "succeeded"

    hc.send_signal(signal.SIGTERM)
    _, err = hc.communicate(timeout=15)
    refused = [l for l in err.splitlines() if "event=auth_refused" in l]
    assert refused, "refused logins must be logged at warn"
    assert all("level=warn" in l for l in refused)
    assert len(refused) <= 20, f"{len(refused)} auth_refused lines in ~5 s: not rate-limited"
    assert any("suppressed=" in l and "suppressed=0" not in l for l in refused), refused[:3]


GARBAGE = [
    b"\x00\xff\xfe" * 2000,
    b"PUB a 99999999999999999999\r\n",
    b"PUB a -5\r\nhello\r\n",
    b"HPUB a 50 10\r\n" + b"x" * 60 + b"\r\n",
    b"HPUB a 18446744073709551615 18446744073709551615\r\n",
    b"SUB a 1\r\nUNSUB 1 99999999999999999999999\r\n",
    b"SUB " + b"a." * 3000 + b"b 1\r\n",
    b"CONNECT " + b"{" * 5000 + b"\r\n",
    b'CONNECT {"verbose":1e999,"protocol":18446744073709551616}\r\n',
    b"PING\r\n" * 10000,
    b"MSG a 1 5\r\nhello\r\n",
    b"PUB a 5\r\nhel",
    b"INFO {}\r\n+OK\r\n-ERR 'x'\r\nPONG\r\n",
]


def test_protocol_garbage_is_refused_and_the_broker_keeps_serving(procs, tmp_path):
    hc = start(procs, tmp_path, [])
    port, url = hc.port, hc.url
    r = hive("submit", "--exec", "/bin/echo", "--json", "--honeycomb", url)
    goal = json.loads(r.stdout)["goal"]
    rng = random.Random(7)
    cases = GARBAGE + [bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 4000))) for _ in range(200)]
    for payload in cases:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(payload)
                s.settimeout(0.2)
                try:
                    s.recv(65536)
                except OSError:
                    pass
        except OSError:
            pass
    assert hc.poll() is None, "honeycombd died on protocol garbage"
    r = hive("goal", goal, "--json", "--honeycomb", url)
    assert r.returncode == 0 and json.loads(r.stdout)["goal"] == goal, r.stderr


def test_a_drone_reporting_absurd_span_times_cannot_break_hive_trace(procs, tmp_path):
    import asyncio
    import nats

    url = start(procs, tmp_path, []).url

    async def liar():
        nc = await nats.connect(url)
        tasks = await nc.subscribe("hive.v1.drone.liar.task")
        hello = {"drone": "liar", "name": "liar", "tier": "worker", "slots": 1, "capabilities": ["backend:noop"],
                 "version": "0.1.0"}
        assert json.loads((await nc.request("hive.v1.drone.liar.hello", json.dumps(hello).encode(), timeout=5)).data)["accepted"]
        plan = tmp_path / "noop.json"
        plan.write_text(json.dumps({"root": {"kind": "noop"}}))
        goal = json.loads(hive("submit", str(plan), "--json", "--honeycomb", url).stdout)["goal"]
        msg = await tasks.next_msg(timeout=10)
        a = json.loads(msg.data)
        parent = msg.headers.get("traceparent") if msg.headers else None
        assert parent, "assignments carry a traceparent"
        trace_id = parent.split("-")[1]
        for times in ("-9223372036854775808 9223372036854775807", "0 9223372036854775807"):
            await nc.publish("hive.v1.drone.liar.result", json.dumps({
                "task": a["task"], "attempt": a["attempt"], "token": a["token"], "drone": "liar",
                "outcome": "succeeded", "output": "ok"}).encode(),
                headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01", "Hive-Span-Time": times})
        await nc.flush()
        await nc.close()
        return goal

    goal = asyncio.run(liar())
    assert hive("watch", goal, "--honeycomb", url, timeout=30).returncode == 0
    r = hive("trace", goal, "--honeycomb", url)
    assert r.returncode == 0 and "goal" in r.stdout, r.stderr
