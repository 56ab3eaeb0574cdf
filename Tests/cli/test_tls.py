"""TLS on the bus with real processes: honeycombd serving TLS (its embedded broker) or using a TLS nats-server
(--nats tls://…), drones and the hive CLI with --tls-ca (and client certificates for mutual TLS), refusals that
name the certificate problem, and a certificate re-issued and reloaded on SIGHUP."""
import json, os, shlex, signal, socket, ssl, subprocess

import pytest

import conftest
from conftest import DRONE, HONEYCOMBD, hive, pki_copy, wait_for_log

FAST = {"heartbeat_ms": 200, "drone_lost_after_ms": 600, "http": "off"}


def tls_init(directory, *hosts):
    """`honeycombd tls init DIR --host …`: the CA (kept when DIR has one) and honeycombd's certificate."""
    args = [HONEYCOMBD, "tls", "init", str(directory)]
    for h in hosts:
        args += ["--host", h]
    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return {"ca": str(directory / "ca.pem"), "cert": str(directory / "server.pem"), "key": str(directory / "server-key.pem"),
            "out": r.stdout}


def tls_client(directory, name):
    r = subprocess.run([HONEYCOMBD, "tls", "client", str(directory), name], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return {"cert": str(directory / f"{name}.pem"), "key": str(directory / f"{name}-key.pem")}


@pytest.fixture
def pki(tmp_path):
    """The run's CA and localhost certificate, copied into tmp_path/pki for this test (conftest.pki_copy)."""
    d = pki_copy(tmp_path / "pki")
    return {"ca": str(d / "ca.pem"), "cert": str(d / "server.pem"), "key": str(d / "server-key.pem")}


def start_honeycombd(procs, tmp_path, pki, extra_config=None, extra_args=()):
    """honeycombd serving TLS on its embedded broker, on port 0 (`.port`)."""
    cfg = tmp_path / "hc.json"
    cfg.write_text(json.dumps({**FAST, **(extra_config or {})}))
    return conftest.start_honeycombd(procs, "--config", str(cfg), "--tls-cert", pki["cert"], "--tls-key", pki["key"],
                                     *extra_args, http=None)


def start_drone(procs, url, *tls_args, name="d1", allow="/bin/echo,/bin/sh", joined=True):
    d = procs.start([DRONE, "--honeycomb", url, "--name", name, "--allow-exec", allow, *tls_args])
    if joined:
        wait_for_log(d, "event=joined", timeout=15)
    return d


def submit_echo(url, *tls_args, text="over tls", env=None):
    r = hive("submit", "--exec", "/bin/echo", text, "--wait", "--json", "--honeycomb", url, *tls_args,
             env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["goal"]["state"] == "succeeded"
    assert result["tasks"][0]["output"] == text + "\n"
    return result


def peer_certificate(port, ca, host="localhost"):
    """Python's ssl, the NATS way: read INFO in plain text, then the TLS handshake; returns (socket, file, cert)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    info = b""
    while not info.endswith(b"\r\n"):
        chunk = raw.recv(1)
        assert chunk, "closed before INFO"
        info += chunk
    assert info.startswith(b"INFO ") and json.loads(info[5:])["tls_required"] is True
    ctx = ssl.create_default_context(cafile=ca)
    s = ctx.wrap_socket(raw, server_hostname=host)
    return s, s.makefile("rb"), s.getpeercert()


def san(cert):
    return {v for k, v in cert["subjectAltName"]}


def ping(s, f, connect=None):
    if connect is not None:
        s.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\n")
    s.sendall(b"PING\r\n")
    while True:
        line = f.readline()
        assert line, "connection closed"
        if line == b"PONG\r\n":
            return
        assert not line.startswith(b"-ERR"), line


# --- The embedded broker serving TLS (these need the broker's TLS: branch tls-broker) -------------------------


def test_a_goal_runs_end_to_end_over_tls_on_the_embedded_broker(procs, tmp_path, pki):
    port = start_honeycombd(procs, tmp_path, pki).port
    url = f"tls://localhost:{port}"
    start_drone(procs, url, "--tls-ca", pki["ca"])
    submit_echo(url, "--tls-ca", pki["ca"])
    # The CA from the environment works the same, and so does a nats:// URL with it (the INFO asks for TLS).
    submit_echo(f"nats://localhost:{port}", text="by env", env={"HIVE_TLS_CA": pki["ca"]})
    r = hive("goals", "--json", "--honeycomb", url, "--tls-ca", pki["ca"])
    assert r.returncode == 0 and len(json.loads(r.stdout)) == 2, r.stderr


def test_wrong_ca_and_plain_text_are_refused_naming_the_problem(procs, tmp_path, pki):
    port = start_honeycombd(procs, tmp_path, pki).port
    other = tls_init(tmp_path / "other")
    # A drone trusting another CA keeps retrying, and says why.
    d = start_drone(procs, f"tls://localhost:{port}", "--tls-ca", other["ca"], joined=False)
    lines = wait_for_log(d, "event=connect_failed", timeout=15)
    assert "certificate is not trusted" in lines[-1] and "not signed by a trusted CA" in lines[-1], lines[-1]
    # The same for the CLI, which gives up at once.
    r = hive("status", "--honeycomb", f"tls://localhost:{port}", "--tls-ca", other["ca"])
    assert r.returncode == 69 and "not signed by a trusted CA" in r.stderr, r.stderr
    # A drone with a plain nats:// URL and no CA: the port requires TLS, and the system's CAs do not know ours.
    plain = start_drone(procs, f"nats://localhost:{port}", name="d2", joined=False)
    lines = wait_for_log(plain, "event=connect_failed", timeout=15)
    assert "requires TLS" in lines[-1], lines[-1]
    # A client that speaks plain text anyway is told so by the broker.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        f = s.makefile("rb")
        assert json.loads(f.readline()[5:])["tls_required"] is True
        s.sendall(b"CONNECT {}\r\nPING\r\n")
        assert b"TLS Required" in f.readline()


def test_mutual_tls_a_certificate_principal_runs_tasks_and_no_certificate_is_refused(procs, tmp_path, pki):
    d1 = tls_client(tmp_path / "pki", "d1")
    ops = tls_client(tmp_path / "pki", "ops")
    principals = [{"name": "d1", "role": "drone", "certificate": "d1"},
                  {"name": "ops", "role": "operator", "certificate": "ops"}]
    port = start_honeycombd(procs, tmp_path, pki, extra_config={"principals": principals},
                            extra_args=["--tls-ca", pki["ca"], "--tls-verify"]).port
    url = f"tls://localhost:{port}"
    start_drone(procs, url, "--tls-ca", pki["ca"], "--tls-cert", d1["cert"], "--tls-key", d1["key"])
    submit_echo(url, "--tls-ca", pki["ca"], "--tls-cert", ops["cert"], "--tls-key", ops["key"])
    # No client certificate: refused, and the message says a certificate is what is missing.
    bare = start_drone(procs, url, "--tls-ca", pki["ca"], name="d9", joined=False)
    lines = wait_for_log(bare, "event=connect_failed", timeout=15)
    assert "certificate" in lines[-1], lines[-1]
    r = hive("status", "--honeycomb", url, "--tls-ca", pki["ca"])
    assert r.returncode == 69 and "certificate" in r.stderr, r.stderr
    # Half a certificate is a usage error before any connection.
    r = hive("status", "--honeycomb", url, "--tls-ca", pki["ca"], "--tls-cert", ops["cert"])
    assert r.returncode == 64 and "--tls-key" in r.stderr, r.stderr


def test_drone_add_prints_a_tls_command_line_that_joins(procs, tmp_path, pki):
    port = start_honeycombd(procs, tmp_path, pki,
                            extra_config={"principals": [{"name": "ops", "role": "operator", "token": "op-secret"}]}).port
    r = hive("drone", "add", "d7", "--honeycomb", f"tls://op-secret@localhost:{port}", "--tls-ca", pki["ca"])
    assert r.returncode == 0, r.stderr
    run = next(l for l in r.stdout.splitlines() if l.strip().startswith("run"))
    argv = shlex.split(run.strip()[len("run"):])
    assert argv[0] == "drone" and argv[2].startswith("tls://") and argv[argv.index("--tls-ca") + 1] == pki["ca"], run
    d = procs.start([DRONE, *argv[1:], "--allow-exec", "/bin/echo"])
    wait_for_log(d, "event=joined", timeout=15)
    submit_echo(f"tls://op-secret@localhost:{port}", "--tls-ca", pki["ca"])


def test_sighup_serves_a_reissued_certificate_to_new_connections_and_keeps_old_ones(procs, tmp_path, pki):
    hc = start_honeycombd(procs, tmp_path, pki)
    port = hc.port
    url = f"tls://localhost:{port}"
    start_drone(procs, url, "--tls-ca", pki["ca"])
    old, old_file, cert = peer_certificate(port, pki["ca"])
    assert "reloaded.test" not in san(cert)
    ping(old, old_file, connect={"verbose": False})
    tls_init(tmp_path / "pki", "reloaded.test")  # the CA is kept; server.pem is re-issued
    hc.send_signal(signal.SIGHUP)
    wait_for_log(hc, "event=tls_reloaded")
    s, f, cert = peer_certificate(port, pki["ca"])
    assert {"reloaded.test", "localhost", "127.0.0.1"} <= san(cert)
    s.close()
    # Connections made before the reload go on: the raw one, and the drone, which runs a new goal.
    ping(old, old_file)
    submit_echo(url, "--tls-ca", pki["ca"], text="after reload")
    old.close()


# --- honeycombd on an external TLS nats-server (--nats tls://…): runs without the broker's TLS ------------------


def tls_nats_server(procs, pki, verify=False):
    args = ["--tls", "--tlscert", pki["cert"], "--tlskey", pki["key"]]
    if verify:
        args += ["--tlsverify", "--tlscacert", pki["ca"]]
    return procs.nats_server(extra=args)


def test_external_tls_nats_server_end_to_end(procs, tmp_path, pki):
    nats = tls_nats_server(procs, pki)
    url = f"tls://localhost:{nats}"
    cfg = tmp_path / "hc.json"
    cfg.write_text(json.dumps(FAST))
    hc = procs.start([HONEYCOMBD, "--config", str(cfg), "--nats", url, "--tls-ca", pki["ca"]])
    wait_for_log(hc, "event=bus_connected")
    start_drone(procs, url, "--tls-ca", pki["ca"])
    submit_echo(url, "--tls-ca", pki["ca"])
    submit_echo(url, text="by env", env={"HIVE_TLS_CA": pki["ca"]})
    r = hive("status", "--json", "--honeycomb", url, "--tls-ca", pki["ca"])
    assert r.returncode == 0 and json.loads(r.stdout)["broker"] == "external", r.stderr


def test_external_tls_refusals_name_the_problem(procs, tmp_path, pki):
    nats = tls_nats_server(procs, pki)
    other = tls_init(tmp_path / "other")
    d = start_drone(procs, f"tls://localhost:{nats}", "--tls-ca", other["ca"], joined=False)
    lines = wait_for_log(d, "event=connect_failed", timeout=15)
    assert "not signed by a trusted CA" in lines[-1], lines[-1]
    plain = start_drone(procs, f"nats://localhost:{nats}", name="d2", joined=False)
    lines = wait_for_log(plain, "event=connect_failed", timeout=15)
    assert "requires TLS" in lines[-1], lines[-1]
    # tls:// to a plain-text server.
    plain_nats = procs.nats_server()
    r = hive("status", "--honeycomb", f"tls://localhost:{plain_nats}", "--tls-ca", pki["ca"])
    assert r.returncode == 69 and "does not offer TLS" in r.stderr, r.stderr
    # A CA file that is not there: said at once, naming the file.
    r = hive("status", "--honeycomb", f"tls://localhost:{nats}", "--tls-ca", str(tmp_path / "missing.pem"))
    assert r.returncode == 69 and "missing.pem" in r.stderr, r.stderr
    d = procs.start([DRONE, "--honeycomb", f"tls://localhost:{nats}", "--tls-ca", str(tmp_path / "missing.pem")])
    assert d.wait(timeout=10) != 0
    assert "missing.pem" in d.stderr.read()


def test_external_mutual_tls_honeycombd_and_drone_present_certificates(procs, tmp_path, pki):
    nats = tls_nats_server(procs, pki, verify=True)
    url = f"tls://localhost:{nats}"
    hc_cert, d1, cli = tls_client(tmp_path / "pki", "hc"), tls_client(tmp_path / "pki", "d1"), tls_client(tmp_path / "pki", "ops")
    cfg = tmp_path / "hc.json"
    cfg.write_text(json.dumps(FAST))
    hc = procs.start([HONEYCOMBD, "--config", str(cfg), "--nats", url, "--tls-ca", pki["ca"],
                      "--tls-cert", hc_cert["cert"], "--tls-key", hc_cert["key"]])
    wait_for_log(hc, "event=bus_connected")
    start_drone(procs, url, "--tls-ca", pki["ca"], "--tls-cert", d1["cert"], "--tls-key", d1["key"])
    env = {"HIVE_TLS_CA": pki["ca"], "HIVE_TLS_CERT": cli["cert"], "HIVE_TLS_KEY": cli["key"]}
    submit_echo(url, env=env)
    bare = start_drone(procs, url, "--tls-ca", pki["ca"], name="d9", joined=False)
    lines = wait_for_log(bare, "event=connect_failed", timeout=15)
    assert "client certificate" in lines[-1], lines[-1]
