"""honeycombd with principals: its own connection as a generated control principal, roles enforced on the bus,
and the same principals printed as a nats-server authorization block that a real nats-server enforces."""
import json
import socket
import subprocess

from conftest import HONEYCOMBD, hive, start_honeycombd, wait_until

OPERATOR_TOKEN = "op-secret-1"
DRONE_TOKEN = "drone-secret-1"


def write_config(tmp_path):
    cfg = tmp_path / "honeycombd.json"
    cfg.write_text(json.dumps({"principals": [
        {"name": "alice", "role": "operator", "token": OPERATOR_TOKEN},
        {"name": "laptop-1", "role": "drone", "token": DRONE_TOKEN},
    ]}))
    return cfg


def raw_login(port, connect):
    """A raw NATS connection after CONNECT + PING/PONG; returns the socket."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    f = s.makefile("rb")
    assert f.readline().startswith(b"INFO ")
    s.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
    assert f.readline() == b"PONG\r\n"
    return s, f


def lines_until_pong(s, f, send):
    s.sendall(send + b"PING\r\n")
    out = []
    while True:
        line = f.readline()
        assert line, "connection closed"
        if line == b"PONG\r\n":
            return out
        out.append(line.decode().rstrip("\r\n"))


def test_roles_are_enforced_and_honeycombd_uses_a_generated_control_principal(procs, tmp_path):
    hc = start_honeycombd(procs, "--config", str(write_config(tmp_path)))
    port = hc.port
    generated = [l for l in hc.startup_log.splitlines() if "event=control_principal_generated" in l]
    assert generated and "name=honeycombd" in generated[0] and "secret" not in hc.startup_log, hc.startup_log

    # The operator reaches the control plane, which is only possible if honeycombd's own connection got in.
    def status():
        r = hive("status", "--honeycomb", f"nats://{OPERATOR_TOKEN}@127.0.0.1:{port}")
        return r if r.returncode == 0 else None
    wait_until("hive status answered for the operator", status, timeout=10)

    # No credential, or a wrong one: refused.
    assert hive("status", "--honeycomb", f"nats://127.0.0.1:{port}", timeout=20).returncode != 0

    # A drone's credential: no sniffing everything, no serving the API, no forging another drone's subjects.
    s, f = raw_login(port, {"verbose": False, "auth_token": DRONE_TOKEN})
    got = lines_until_pong(s, f, b"SUB > 1\r\nSUB hive.v1.api.* honeycombd 2\r\nSUB hive.v1.drone.laptop-1.task 3\r\n"
                                 b"PUB hive.v1.drone.other.result 1\r\nx\r\nPUB hive.v1.api.submit 2\r\n{}\r\n"
                                 # Blobs: fetching a task's input and uploading an output on its own subject, yes;
                                 # uploading as an operator, another drone's upload, asking what exists: no.
                                 b"PUB hive.v1.api.blob_get 2\r\n{}\r\nPUB hive.v1.drone.laptop-1.blob 2\r\n{}\r\n"
                                 b"PUB hive.v1.api.blob_add 2\r\n{}\r\nPUB hive.v1.drone.other.blob 2\r\n{}\r\n"
                                 b"PUB hive.v1.api.blob_has 2\r\n{}\r\n")
    assert got == [
        "-ERR 'Permissions Violation for Subscription to \">\"'",
        "-ERR 'Permissions Violation for Subscription to \"hive.v1.api.*\" using queue \"honeycombd\"'",
        "-ERR 'Permissions Violation for Publish to \"hive.v1.drone.other.result\"'",
        "-ERR 'Permissions Violation for Publish to \"hive.v1.api.submit\"'",
        "-ERR 'Permissions Violation for Publish to \"hive.v1.api.blob_add\"'",
        "-ERR 'Permissions Violation for Publish to \"hive.v1.drone.other.blob\"'",
        "-ERR 'Permissions Violation for Publish to \"hive.v1.api.blob_has\"'",
    ]
    s.close()
    hc.terminate()
    _, err = hc.communicate(timeout=10)
    # Logged at warn, rate-limited to one line a second (the rest counted in the next line's suppressed=).
    violations = [l for l in err.splitlines() if "permission_violation" in l]
    assert 1 <= len(violations) <= 2, err
    assert "principal=laptop-1" in violations[0]


def test_printed_authorization_block_is_enforced_by_a_real_nats_server(procs, tmp_path):
    out = subprocess.run([HONEYCOMBD, "--config", str(write_config(tmp_path)), "--print-nats-authorization"],
                         capture_output=True, text=True, timeout=15)
    assert out.returncode == 0, out.stderr
    assert "authorization {" in out.stdout
    conf = tmp_path / "nats.conf"
    conf.write_text(out.stdout)
    port = procs.nats_server(extra=["-c", str(conf)])
    # On nats-server a token principal is user NAME with password TOKEN.
    s, f = raw_login(port, {"verbose": False, "user": "laptop-1", "pass": DRONE_TOKEN})
    got = lines_until_pong(s, f, b"SUB > 1\r\nSUB hive.v1.drone.laptop-1.task 3\r\nPUB hive.v1.drone.other.result 1\r\nx\r\n")
    assert got == [
        "-ERR 'Permissions Violation for Subscription to \">\"'",
        "-ERR 'Permissions Violation for Publish to \"hive.v1.drone.other.result\"'",
    ]
    s.close()


def test_principals_and_a_single_token_are_mutually_exclusive(tmp_path):
    r = subprocess.run([HONEYCOMBD, "--config", str(write_config(tmp_path)), "--token", "x"],
                       capture_output=True, text=True, timeout=15)
    assert r.returncode == 78
    assert "remove 'auth'" in r.stderr
