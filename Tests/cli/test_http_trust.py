"""The HTTP face against the audit's attacks, with a real honeycombd: a page on another origin cannot submit or
cancel through a visitor's browser (with or without a Content-Type), a rebound host name is refused, an open API
never listens beyond loopback, a browser logs in with a form and then works from an HttpOnly session cookie (API
and event stream, no secret in any URL), its changes need the session's CSRF token, and every response carries the
security headers."""
import http.client, json, socket, subprocess, time

from conftest import HONEYCOMBD, log_field, start_honeycombd as start_daemon, wait_for_log
from test_control_plane import start_drones, start_honeycombd
from test_http import JSON, request

TOKEN = "s3cret-operator"
SLEEP = {"name": "victim", "root": {"kind": "exec", "input": {"command": "/bin/sleep", "args": ["30"]}}}
EVIL = "http://evil.example"


def start(procs, tmp_path, **extra):
    """honeycombd with its broker and HTTP on port 0: (bus URL, HTTP port, process)."""
    hc = start_honeycombd(procs, tmp_path, extra={"http": "127.0.0.1:0", **extra})
    return hc.url, hc.http_port, hc


def raw(port, method, path, headers=None, body=b""):
    """One request with exactly the headers given (http.client would add its own Host): (status, headers, body)."""
    lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "DELETE"):
        lines.append(f"Content-Length: {len(body)}")
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("\r\n".join(lines + ["Connection: close", "", ""])).encode() + body)
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    head, _, text = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    hdrs = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.decode().partition(":")
        hdrs.setdefault(k.strip().lower(), []).append(v.strip())
    return status, hdrs, text.decode()


def goal_state(port, goal, headers=None):
    return request(port, "GET", f"/api/goals/{goal}", headers=headers)[2]["goal"]["state"]


def test_a_page_on_another_origin_cannot_submit_or_cancel_through_the_browser_and_the_goal_is_unharmed(procs, tmp_path):
    url, port, hc = start(procs, tmp_path)  # the default: no credentials, loopback only
    start_drones(procs, url, 1, slots=1)
    status, _, body = request(port, "POST", "/api/goals", SLEEP, JSON)
    assert status == 201, body
    goal = body["goal"]
    host = {"Host": f"127.0.0.1:{port}"}
    evil_plan = json.dumps({"name": "evil", "root": {"kind": "exec", "input": {"command": "/bin/sh", "args": ["-c", "echo pwned"]}}}).encode()
    attacks = [  # what a page on evil.example can make a browser send: a form (no JSON), fetch with or without a type
        ("POST", "/api/goals", {}, evil_plan),
        ("POST", "/api/goals", {"Content-Type": "text/plain"}, evil_plan),
        ("POST", "/api/goals", {"Content-Type": "application/x-www-form-urlencoded"}, b"x=" + evil_plan),
        ("POST", "/api/goals", {"Content-Type": "application/json"}, evil_plan),
        ("POST", f"/api/goals/{goal}/cancel", {}, b""),
        ("POST", f"/api/goals/{goal}/cancel", {"Content-Type": "application/json"}, b""),
    ]
    for origin in (EVIL, "http://127.0.0.1:1", "null"):  # another site, another local app, a sandboxed frame
        for method, path, headers, body in attacks:
            status, _, answer = raw(port, method, path, {**host, "Origin": origin, **headers}, body)
            assert status == 403 and "cross-origin" in json.loads(answer)["error"], (origin, path, headers, status, answer)
    # Without Origin (not a browser), a POST still needs JSON, decided from the head.
    status, _, answer = raw(port, "POST", f"/api/goals/{goal}/cancel", host)
    assert status == 415 and "Content-Type: application/json" in json.loads(answer)["error"]
    status, _, answer = raw(port, "POST", "/api/goals", {**host, "Content-Type": "text/plain"}, evil_plan)
    assert status == 415
    # Nothing was submitted and the victim is still running.
    _, _, goals = request(port, "GET", "/api/goals")
    assert [g["goal"] for g in goals] == [goal]
    assert goal_state(port, goal) == "running"
    refused = wait_for_log(hc, "event=request_refused")[-1]  # logged (at most one line a second)
    assert "cross-origin" in refused and "path=/api/goals" in refused, refused
    # The dashboard's own origin still may.
    status, _, answer = raw(port, "POST", f"/api/goals/{goal}/cancel", {**host, "Origin": f"http://127.0.0.1:{port}", **JSON})
    assert status == 200, answer
    assert goal_state(port, goal) == "cancelled"


def test_a_rebound_host_name_is_refused_and_an_allowed_name_is_not(procs, tmp_path):
    _, port, _ = start(procs, tmp_path, http_allowed_hosts=["hive.lan"])
    for path in ["/", "/api/goals", "/api/events", "/metrics"]:
        status, _, answer = raw(port, "GET", path, {"Host": f"evil.example:{port}"})
        assert status == 421, (path, status)
        assert "DNS rebinding" in json.loads(answer)["error"] and "--http-allowed-hosts" in json.loads(answer)["error"]
    assert raw(port, "GET", "/api/goals", {"Host": f"hive.lan:{port}"})[0] == 200
    assert raw(port, "GET", "/api/goals", {"Host": f"localhost:{port}"})[0] == 200
    assert raw(port, "GET", "/healthz", {"Host": "evil.example"})[0] == 200  # health checks carry no data


def test_an_open_api_refuses_to_listen_beyond_loopback(procs, tmp_path):
    r = subprocess.run([HONEYCOMBD, "--listen", "127.0.0.1:0", "--http", "0.0.0.0:0"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "--http 0.0.0.0:0 listens beyond loopback" in r.stderr and "--token" in r.stderr and "--user" in r.stderr, r.stderr
    assert "event=http_listening" not in r.stderr, "refused before it listened"
    # With credentials it serves, and asks for them.
    hc = start_daemon(procs, "--token", TOKEN, "--http", "0.0.0.0:0", http=None, ready="event=http_listening")
    assert hc.http_port and log_field(hc.startup_log.splitlines(), "http_listening", "address").startswith("0.0.0.0:")
    assert request(hc.http_port, "GET", "/api/goals")[0] == 401


def test_a_browser_logs_in_with_the_form_and_then_works_from_its_session_cookie(procs, tmp_path):
    _, port, hc = start(procs, tmp_path, auth={"token": TOKEN})  # no drone: the goal waits, which is all we need
    host = {"Host": f"127.0.0.1:{port}"}
    # No credentials: GET / is the login form, not JSON.
    status, headers, page = raw(port, "GET", "/", host)
    assert status == 200 and headers["content-type"] == ["text/html; charset=utf-8"]
    assert '<form id="login-form" method="post" action="/login">' in page and 'type="password"' in page and "/assets/login.js" in page
    assert raw(port, "GET", "/assets/login.js", host)[0] == 200  # what the form needs comes without credentials
    # Secrets in URLs are not accepted (they end up in history, logs and Referer).
    assert raw(port, "GET", f"/api/goals?access_token={TOKEN}", host)[0] == 401
    # Wrong credentials: no cookie.
    status, headers, _ = raw(port, "POST", "/login", {**host, **JSON}, json.dumps({"token": "guess"}).encode())
    assert status == 401 and "set-cookie" not in headers
    status, headers, body = raw(port, "POST", "/login", {**host, **JSON, "Origin": f"http://127.0.0.1:{port}"}, json.dumps({"token": TOKEN}).encode())
    assert status == 200, body
    cookie = headers["set-cookie"][0]
    assert all(part in cookie for part in ["HttpOnly", "SameSite=Strict", "Path=/"]), cookie
    session = cookie.split(";")[0]
    csrf = json.loads(body)["csrf"]
    logged = wait_for_log(hc, "event=login ")
    assert "principal=admin" in logged[-1] and not any(TOKEN in line or "guess" in line for line in logged)
    jar = {**host, "Cookie": session}
    # The cookie alone reads the API and the dashboard ...
    status, _, page = raw(port, "GET", "/", jar)
    assert status == 200 and "/assets/dashboard.js" in page
    assert json.loads(raw(port, "GET", "/api/session", jar)[2]) == {"principal": "admin", "role": "operator", "csrf": csrf, "auth_required": True}
    status, _, answer = raw(port, "POST", "/api/goals", {**jar, **JSON}, json.dumps(SLEEP).encode())
    assert status == 403 and "X-Hive-CSRF" in json.loads(answer)["error"]  # ... but a change without the token is refused
    assert raw(port, "POST", "/api/goals", {**jar, **JSON, "X-Hive-CSRF": "0" * 64}, json.dumps(SLEEP).encode())[0] == 403
    status, _, answer = raw(port, "POST", "/api/goals", {**jar, **JSON, "X-Hive-CSRF": csrf}, json.dumps(SLEEP).encode())
    assert status == 201, answer
    goal = json.loads(answer)["goal"]
    # The event stream works from the cookie too (EventSource sends cookies, not headers).
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"GET /api/goals/{goal}/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {session}\r\n\r\n".encode())
    seen = b""
    deadline = time.monotonic() + 10
    while b"event: synced" not in seen and time.monotonic() < deadline:
        seen += s.recv(65536)
    s.close()
    assert seen.startswith(b"HTTP/1.1 200") and b"event: synced" in seen and b"Content-Security-Policy" in seen
    assert raw(port, "POST", f"/api/goals/{goal}/cancel", {**jar, **JSON})[0] == 403
    assert raw(port, "POST", f"/api/goals/{goal}/cancel", {**jar, **JSON, "X-Hive-CSRF": csrf})[0] == 200
    # Logging out ends the session on the server, whatever the browser keeps.
    status, headers, _ = raw(port, "POST", "/logout", {**jar, **JSON, "X-Hive-CSRF": csrf})
    assert status == 204 and "Max-Age=0" in headers["set-cookie"][0]
    assert raw(port, "GET", "/api/goals", jar)[0] == 401
    assert 'id="login-form"' in raw(port, "GET", "/", jar)[2]


def test_every_response_carries_the_security_headers(procs, tmp_path):
    _, port, _ = start(procs, tmp_path, auth={"token": TOKEN})
    host = {"Host": f"127.0.0.1:{port}"}
    auth = {**host, "Authorization": f"Bearer {TOKEN}"}
    for headers, path, want in [(host, "/", 200), (auth, "/", 200), (auth, "/api/goals", 200), (host, "/api/goals", 401),
                                (auth, "/assets/dashboard.js", 200), (auth, "/nope", 404), ({"Host": "evil.example"}, "/", 421),
                                (auth, "/metrics", 200)]:
        status, h, _ = raw(port, "GET", path, headers)
        assert status == want, (path, status)
        csp = h["content-security-policy"][0]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
        assert h["x-frame-options"] == ["DENY"] and h["x-content-type-options"] == ["nosniff"]
        assert h["referrer-policy"] == ["no-referrer"] and h["cache-control"] == ["no-store"], (path, h)
    # The pages hold no inline script or style for the policy to block.
    page = raw(port, "GET", "/", auth)[2]
    assert "<script>" not in page and "<style>" not in page and "style=" not in page
