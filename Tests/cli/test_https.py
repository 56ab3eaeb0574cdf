"""honeycombd's HTTP API and dashboard over HTTPS, end to end: certificates from `honeycombd tls init`, honeycombd
started with --tls-cert/--tls-key, and clients nobody here wrote (Python's ssl module, curl) that trust only the
private CA. Health, an authenticated call, the login cookie (`Secure`), HSTS, the event stream, a plain HTTP request
on the HTTPS port (Go's plain-text 400), and a client trusting another CA, which must refuse the server."""
import http.client, json, socket, ssl, subprocess

import pytest

from conftest import HONEYCOMBD, pki_copy, require_tool, wait_for_log
from test_control_plane import start_honeycombd
from test_http import JSON

TOKEN = "https-s3cret"
AUTH = {**JSON, "Authorization": f"Bearer {TOKEN}"}
SLEEP = {"name": "waits", "root": {"kind": "exec", "input": {"command": "/bin/sleep", "args": ["30"]}}}


def tls_init(directory, host="localhost"):
    r = subprocess.run([HONEYCOMBD, "tls", "init", str(directory), "--host", host], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return {name: str(directory / f"{name}.pem") for name in ["ca", "server", "server-key"]}


def start_https(procs, tmp_path, **extra):
    """honeycombd serving HTTPS on loopback with a token: (http port, CA file, process, its certificate files)."""
    d = pki_copy(tmp_path / "tls")
    files = {name: str(d / f"{name}.pem") for name in ["ca", "server", "server-key"]}
    hc = start_honeycombd(procs, tmp_path, extra={"http": "127.0.0.1:0", "auth": {"token": TOKEN},
                                                  "tls_cert": files["server"], "tls_key": files["server-key"], **extra})
    http_port = hc.http_port
    assert "tls=yes" in hc.startup_log and f"url=https://127.0.0.1:{http_port}/" in hc.startup_log, hc.startup_log
    return http_port, files["ca"], hc, files


def context(ca):
    return ssl.create_default_context(cafile=ca)  # verifies the chain and the host name


def request(port, ca, method, path, body=None, headers=None, host="127.0.0.1"):
    """One HTTPS request: (status, headers as a dict of lists, body text)."""
    c = http.client.HTTPSConnection(host, port, timeout=10, context=context(ca))
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    c.request(method, path, body=data, headers=headers or {})
    r = c.getresponse()
    text = r.read().decode()
    found = {}
    for k, v in r.getheaders():
        found.setdefault(k.lower(), []).append(v)
    c.close()
    return r.status, found, text


def read_events(port, ca, path, headers, until, timeout=20):
    """Reads an SSE stream over TLS until `until(events)` holds; returns (response head, [(event, data)])."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s = context(ca).wrap_socket(raw, server_hostname="127.0.0.1")
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode())
    buf, head, events = b"", None, []
    while not until(events):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        if head is None and b"\r\n\r\n" in buf:
            head, buf = buf.split(b"\r\n\r\n", 1)
        while head is not None and b"\n\n" in buf:
            frame, buf = buf.split(b"\n\n", 1)
            lines = frame.decode().split("\n")
            name = next((l[7:] for l in lines if l.startswith("event: ")), None)
            data = "\n".join(l[6:] for l in lines if l.startswith("data: "))
            if name:
                events.append((name, json.loads(data)))
    s.close()
    return (head or b"").decode(), events


def test_the_api_answers_over_https_to_a_client_trusting_the_private_ca(procs, tmp_path):
    port, ca, _, _ = start_https(procs, tmp_path)
    status, headers, body = request(port, ca, "GET", "/healthz")
    assert status == 200 and body == "ok\n"
    assert headers["strict-transport-security"] == ["max-age=31536000"]
    # By name as well as by address: the certificate names localhost and 127.0.0.1.
    assert request(port, ca, "GET", "/healthz", host="localhost")[0] == 200
    # Credentials still count.
    assert request(port, ca, "GET", "/api/status")[0] == 401
    status, headers, body = request(port, ca, "GET", "/api/status", headers=AUTH)
    assert status == 200 and json.loads(body)["service"] == "honeycombd", body
    assert headers["strict-transport-security"] == ["max-age=31536000"]
    status, _, body = request(port, ca, "POST", "/api/goals", SLEEP, AUTH)
    assert status == 201, body


def test_the_session_cookie_is_secure_and_the_event_stream_works_over_https(procs, tmp_path):
    port, ca, _, _ = start_https(procs, tmp_path)
    origin = {"Origin": f"https://127.0.0.1:{port}"}
    status, headers, body = request(port, ca, "POST", "/login", {"token": TOKEN}, {**JSON, **origin})
    assert status == 200, body
    cookie = headers["set-cookie"][0]
    assert all(part in cookie for part in ["HttpOnly", "SameSite=Strict", "Secure"]), cookie
    session, csrf = cookie.split(";")[0], json.loads(body)["csrf"]
    status, _, body = request(port, ca, "POST", "/api/goals", SLEEP, {**JSON, **origin, "Cookie": session, "X-Hive-CSRF": csrf})
    assert status == 201, body
    goal = json.loads(body)["goal"]
    # The goal's stream: its snapshot, `synced`, then the live change a cancel makes (no drone: the goal waits).
    asked = False

    def cancelled(events):
        nonlocal asked
        if not asked and any(n == "synced" for n, _ in events):
            asked = True
            assert request(port, ca, "POST", f"/api/goals/{goal}/cancel", None, {**JSON, "Cookie": session, "X-Hive-CSRF": csrf})[0] == 200
        return any(n == "goal" and d.get("state") == "cancelled" for n, d in events)
    head, events = read_events(port, ca, f"/api/goals/{goal}/events", {"Cookie": session}, cancelled)
    assert head.startswith("HTTP/1.1 200") and "Strict-Transport-Security: max-age=31536000" in head, head
    assert asked and cancelled(events), events
    # Logging out clears the cookie with the same attributes.
    status, headers, _ = request(port, ca, "POST", "/logout", None, {**JSON, "Cookie": session, "X-Hive-CSRF": csrf})
    assert status == 204 and "Max-Age=0" in headers["set-cookie"][0] and "Secure" in headers["set-cookie"][0]


def test_plain_http_on_the_https_port_is_told_and_another_cas_client_refuses_the_server(procs, tmp_path):
    port, ca, hc, _ = start_https(procs, tmp_path)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    answer = b""
    while chunk := s.recv(4096):
        answer += chunk
    s.close()
    assert answer == b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
    line = wait_for_log(hc, "event=tls_handshake_failed")[-1]
    assert "address=127.0.0.1" in line and "plain HTTP request" in line, line
    # A client trusting a different CA refuses the certificate (and the server is not fooled into answering).
    other = tls_init(tmp_path / "other")
    with pytest.raises(ssl.SSLCertVerificationError):
        request(port, other["ca"], "GET", "/healthz")
    # The server keeps serving those who trust its CA.
    assert request(port, ca, "GET", "/healthz")[0] == 200


def test_curl_with_the_ca_reads_the_api_and_without_it_refuses(procs, tmp_path):
    require_tool("curl", package="curl")
    port, ca, _, _ = start_https(procs, tmp_path)
    ok = subprocess.run(["curl", "-sS", "-i", "--cacert", ca, "-H", f"Authorization: Bearer {TOKEN}",
                         f"https://localhost:{port}/api/status"], capture_output=True, text=True, timeout=20)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("HTTP/1.1 200") and "strict-transport-security: max-age=31536000" in ok.stdout.lower()
    assert json.loads(ok.stdout.split("\n\n", 1)[1])["service"] == "honeycombd"
    refused = subprocess.run(["curl", "-sS", f"https://localhost:{port}/healthz"], capture_output=True, text=True, timeout=20)
    assert refused.returncode == 60, (refused.returncode, refused.stderr)  # peer certificate cannot be authenticated
    plain = subprocess.run(["curl", "-sS", f"http://127.0.0.1:{port}/healthz"], capture_output=True, text=True, timeout=20)
    assert plain.stdout == "Client sent an HTTP request to an HTTPS server.\n", (plain.stdout, plain.stderr)
