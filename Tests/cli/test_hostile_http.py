"""honeycombd's HTTP face and module store against a hostile client on the same host: idle sockets must not lock an
authorized user out, a body of tiny chunks must not cost CPU, nothing is read before authentication, and nobody can
fill the module store without limit. Real processes and sockets throughout."""
import hashlib, http.client, json, os, socket, threading, time

import pytest

from conftest import hive
from test_control_plane import start_drones, start_honeycombd, submit_wait
from test_wasm import UPPER, add, compile_c

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def start_with_token(procs, tmp_path, **extra):
    hc = start_honeycombd(procs, tmp_path, extra={"http": "127.0.0.1:0", "auth": {"token": TOKEN}, **extra})
    return hc, hc.http_port


def cpu_seconds(pid):
    """User + system CPU time the process has used so far (from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_response(sock, timeout=10):
    """Reads until the peer closes or the head and a Content-Length body have arrived; returns (status, body)."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            length = next((int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")), 0)
            if len(body) >= length:
                break
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None
    return status, data.partition(b"\r\n\r\n")[2]


def peer_closed(sock, timeout=5):
    """Whether the server closes the connection (EOF or reset) within `timeout`, draining what it sent first."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_300_idle_sockets_from_many_loopback_addresses_do_not_lock_out_an_authorized_user(procs, tmp_path):
    hc, port = start_with_token(procs, tmp_path)
    idle = []
    try:
        # A local attacker can use any 127/8 source address, so the per-address cap alone would not protect anyone:
        # 30 sockets from each of 10 addresses stay under it and fill the whole table (256).
        for i in range(300):
            s = socket.socket()
            s.bind((f"127.0.0.{2 + i % 10}", 0))
            s.connect(("127.0.0.1", port))
            idle.append(s)
        start = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/api/status", headers=AUTH)
        r = c.getresponse()
        body = json.loads(r.read())
        elapsed = time.monotonic() - start
        c.close()
        assert r.status == 200 and body["service"] == "honeycombd"
        assert elapsed < 2.0, f"the authorized request took {elapsed:.2f} s"
        # The oldest idle sockets made room (the server closed them), the newest are still open.
        assert peer_closed(idle[0])
    finally:
        for s in idle:
            s.close()


def test_a_silent_connection_is_closed_after_the_first_byte_timeout(procs, tmp_path):
    _, port = start_with_token(procs, tmp_path, http_first_byte_timeout_ms=300)
    s = socket.create_connection(("127.0.0.1", port))
    start = time.monotonic()
    assert peer_closed(s, timeout=5)
    assert 0.25 < time.monotonic() - start < 3
    s.close()


def test_a_body_of_one_byte_chunks_is_refused_with_413_quickly_and_cheaply(procs, tmp_path):
    hc, port = start_with_token(procs, tmp_path)
    before = cpu_seconds(hc.pid)
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /api/goals HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode()
              + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    body = b"1\r\nx\r\n" * (9_000_000 // 6)  # 9 MB on the wire

    def send():
        try:
            s.sendall(body)
        except OSError:
            pass  # the server stopped reading after its 413: expected

    sender = threading.Thread(target=send)
    start = time.monotonic()
    sender.start()
    status, answer = read_response(s)
    elapsed = time.monotonic() - start
    assert status == 413 and b"http_max_body_bytes" in answer, answer
    assert elapsed < 3.0, f"413 after {elapsed:.2f} s"
    s.close()
    sender.join(timeout=10)
    used = cpu_seconds(hc.pid) - before
    assert used < 1.5, f"honeycombd used {used:.2f} CPU-seconds on one refused body"
    # Still serving.
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/api/status", headers=AUTH)
    assert c.getresponse().status == 200


@pytest.mark.parametrize("headers,want", [
    (b"", 401),  # no credentials: refused from the head
    (b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Type: application/json\r\n", 413),  # credentials, but the declared size is over the limit
    (b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Type: text/plain\r\n", 415),
])
def test_a_post_refused_from_its_head_is_answered_without_its_body(procs, tmp_path, headers, want):
    _, port = start_with_token(procs, tmp_path)
    s = socket.create_connection(("127.0.0.1", port))
    if want == 415:
        s.sendall(b"POST /api/goals HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"Content-Length: 500000\r\n\r\n")
    else:
        s.sendall(b"POST /api/goals HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"Content-Length: 50000000\r\n\r\n")
    status, _ = read_response(s, timeout=5)  # no byte of the body was sent
    assert status == want
    assert peer_closed(s)  # the body will not be read, so the connection cannot go on
    s.close()


def test_an_authorized_post_expecting_continue_is_told_to_send_its_body(procs, tmp_path):
    _, port = start_with_token(procs, tmp_path)
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    body = json.dumps({"name": "x", "root": {"kind": "noop"}}).encode()
    s.sendall(b"POST /api/goals HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode()
              + b"\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\n\r\n")
    assert s.recv(64).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    s.sendall(body)
    status, answer = read_response(s)
    assert status == 201 and "goal" in json.loads(answer)
    s.close()


def modules(url):
    r = hive("module", "ls", "--json", "--honeycomb", url)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_the_module_store_has_a_quota_and_modules_can_be_removed(procs, tmp_path):
    data = tmp_path / "data"
    hc = start_honeycombd(procs, tmp_path, data=data, extra={"modules_max_count": 1, "http": "127.0.0.1:0"})
    url, port, http_port = hc.url, hc.port, hc.http_port
    a = compile_c(tmp_path, "upper", UPPER)
    b = compile_c(tmp_path, "upper2", UPPER.replace("toupper(c)", "tolower(c)"))
    code, hash_a, err = add(url, a)
    assert code == 0, err
    code, _, err = add(url, b)
    assert code != 0 and "modules_max_count is 1 (--modules-max-count)" in err and "hive module rm" in err, err
    listed = modules(url)
    assert [m["module"] for m in listed["modules"]] == [hash_a] and listed["max_count"] == 1
    assert listed["total_bytes"] == a.stat().st_size
    # The HTTP API lists the same.
    c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
    c.request("GET", "/api/modules")
    assert json.loads(c.getresponse().read()) == listed

    # A goal still running that names the module keeps it (no drone is up, so the task waits).
    r = hive("submit", "--wasm", hash_a, "--json", "--honeycomb", url)
    assert r.returncode == 0, r.stderr
    goal = json.loads(r.stdout)["goal"]
    r = hive("module", "rm", hash_a, "--honeycomb", url)
    assert r.returncode != 0 and f"named by goal {goal}, which is still running" in r.stderr, r.stderr
    c.request("DELETE", f"/api/modules/{hash_a}", headers={"Content-Type": "application/json"})
    r409 = c.getresponse()
    assert r409.status == 409 and "still running" in json.loads(r409.read())["error"]
    assert hive("cancel", goal, "--honeycomb", url).returncode == 0

    r = hive("module", "rm", hash_a, "--honeycomb", url)
    assert r.returncode == 0, r.stderr
    assert not (data / "modules" / f"{hash_a}.wasm").exists()
    assert modules(url)["modules"] == []
    r = hive("module", "rm", hash_a, "--honeycomb", url)
    assert r.returncode != 0 and "unknown module" in r.stderr

    # Room again; after a restart the quota counts what is on disk.
    code, hash_b, err = add(url, b)
    assert code == 0, err
    hc.terminate()
    hc.wait(timeout=10)
    hc = start_honeycombd(procs, tmp_path, data=data, extra={"modules_max_count": 1, "http": "off"}, port=port)
    assert [m["module"] for m in modules(url)["modules"]] == [hash_b]
    code, _, err = add(url, a)
    assert code != 0 and "modules_max_count" in err, err

    # A task naming the removed module fails, saying why, and is not retried.
    start_drones(procs, url, 1)
    code, r = submit_wait(url, "--wasm", hash_a, timeout=60)
    assert code != 0 and r["goal"]["state"] == "failed", r
    assert "unknown module" in json.dumps(r), r


def test_removing_a_module_over_http_needs_credentials_and_names_what_is_missing(procs, tmp_path):
    _, port = start_with_token(procs, tmp_path)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("DELETE", "/api/modules/" + "a" * 64)
    r = c.getresponse()
    r.read()
    assert r.status == 401
    c.request("DELETE", "/api/modules/" + "a" * 64, headers=AUTH)
    r = c.getresponse()
    assert r.status == 415 and "Content-Type: application/json" in json.loads(r.read())["error"]  # like every DELETE and POST
    c.request("DELETE", "/api/modules/" + "a" * 64, headers={**AUTH, "Content-Type": "application/json"})
    r = c.getresponse()
    assert r.status == 404 and "unknown module" in json.loads(r.read())["error"]
    c.request("DELETE", "/api/modules/../../etc", headers={**AUTH, "Content-Type": "application/json"})
    r = c.getresponse()
    assert r.status in (400, 404)
    r.read()
