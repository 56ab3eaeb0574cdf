"""honeycombd's HTTP face end to end: JSON routes, errors, auth, read-only mode, the event stream, Prometheus
metrics (parsed by PyPI prometheus-client, a parser nobody here wrote), and hostile requests that must not
disturb the broker or the scheduler."""
import http.client, json, socket, time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import hive, start_honeycombd as start_daemon, wait_until
from test_control_plane import start_drones, start_honeycombd, submit_wait

JSON = {"Content-Type": "application/json"}
FORK = {"name": "three", "root": {"kind": "fork", "join": "all", "children": [
    {"kind": "exec", "input": {"command": "/bin/sh", "args": ["-c", "echo $HIVE_TASK_INDEX"]}} for _ in range(3)]}}


def start(procs, tmp_path, data=None, **extra):
    """honeycombd with its broker and HTTP on port 0: (bus URL, HTTP port, process)."""
    hc = start_honeycombd(procs, tmp_path, data=data, extra={"http": "127.0.0.1:0", **extra})
    return hc.url, hc.http_port, hc


def request(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    c.request(method, path, body=data, headers=headers or {})
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    return r.status, dict(r.getheaders()), (json.loads(text) if r.getheader("Content-Type", "").startswith("application/json") else text)


def test_the_json_routes_answer_what_the_cli_reads(procs, tmp_path):
    url, port, _ = start(procs, tmp_path)
    start_drones(procs, url, 1, slots=3)
    status, _, body = request(port, "POST", "/api/goals", FORK, JSON)
    assert status == 201, body
    goal = body["goal"]
    wait_until(f"goal {goal} to end", lambda: request(port, "GET", f"/api/goals/{goal}")[2]["goal"]["state"] != "running",
               timeout=20)
    status, _, result = request(port, "GET", f"/api/goals/{goal}")
    assert status == 200 and result["goal"]["state"] == "succeeded"
    assert sorted(t["output"] for t in result["tasks"]) == ["0\n", "1\n", "2\n"]
    # The same answer the CLI prints from the bus.
    cli = json.loads(hive("result", goal, "--json", "--honeycomb", url).stdout)
    assert cli["goal"] == result["goal"] and cli["tasks"] == result["tasks"]
    _, _, tasks = request(port, "GET", f"/api/goals/{goal}/tasks")
    assert [t["kind"] for t in tasks].count("fork") == 1 and len(tasks) == 4
    _, _, goals = request(port, "GET", "/api/goals")
    assert [g["goal"] for g in goals] == [goal]
    _, _, drones = request(port, "GET", "/api/drones")
    assert len(drones) == 1 and drones[0]["completed"] == 3
    status, _, s = request(port, "GET", "/api/status")
    assert status == 200 and s["service"] == "honeycombd"


def test_errors_are_json_with_the_status_that_fits(procs, tmp_path):
    _, port, _ = start(procs, tmp_path)
    cases = [
        ("GET", "/api/goals/nope", None, {}, 404, "unknown goal 'nope'"),
        ("GET", "/api/nothing", None, {}, 404, "no route"),
        ("DELETE", "/api/goals", None, {}, 405, "not allowed"),
        ("POST", "/api/goals", b"{not json", JSON, 400, "unreadable goal"),
        ("POST", "/api/goals", b"name=x", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "send JSON"),
        ("POST", "/api/goals/nope/cancel", None, JSON, 404, "unknown goal"),
    ]
    for method, path, body, headers, want, reason in cases:
        status, h, answer = request(port, method, path, body, headers)
        assert status == want and reason in answer["error"], (method, path, status, answer)
    assert request(port, "DELETE", "/api/goals")[1]["Allow"] == "GET, POST, HEAD"


def test_with_broker_credentials_the_api_asks_for_them(procs, tmp_path):
    http_port = start_daemon(procs, "--token", "s3cret", http=True).http_port
    status, h, body = request(http_port, "GET", "/api/goals")
    assert status == 401 and "Bearer" in h["WWW-Authenticate"]
    assert request(http_port, "GET", "/api/goals", headers={"Authorization": "Bearer wrong"})[0] == 401
    assert request(http_port, "GET", "/api/goals", headers={"Authorization": "Bearer s3cret"})[0] == 200
    assert request(http_port, "GET", "/api/goals?access_token=s3cret")[0] == 401  # never a secret in a URL
    assert request(http_port, "GET", "/healthz")[0] == 200  # health checks need no token


def test_read_only_mode_refuses_changes(procs, tmp_path):
    _, port, _ = start(procs, tmp_path, http_read_only=True)
    status, _, body = request(port, "POST", "/api/goals", FORK, JSON)
    assert status == 403 and "read-only" in body["error"]
    assert request(port, "GET", "/api/goals")[0] == 200


def read_events(port, path, until, timeout=20):
    """Reads an SSE stream until `until(events)` holds; returns the (event, data) pairs."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    buf, events = b"", []
    deadline = time.monotonic() + timeout
    while not until(events) and time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
        while b"\n\n" in buf:
            frame, buf = buf.split(b"\n\n", 1)
            lines = frame.decode().split("\n")
            name = next((l[7:] for l in lines if l.startswith("event: ")), None)
            data = "\n".join(l[6:] for l in lines if l.startswith("data: "))
            if name:
                events.append((name, json.loads(data)))
    s.close()
    return events


def test_the_event_stream_shows_a_goals_tree_live(procs, tmp_path):
    url, port, _ = start(procs, tmp_path)
    start_drones(procs, url, 1, slots=3)
    status, _, body = request(port, "POST", "/api/goals", {"name": "slow", "root": {"kind": "fork", "join": "all", "children": [
        {"kind": "exec", "input": {"command": "/bin/sleep", "args": ["0.3"]}} for _ in range(2)]}}, JSON)
    goal = body["goal"]
    events = read_events(port, f"/api/goals/{goal}/events",
                         lambda ev: any(n == "goal" and d["state"] != "running" for n, d in ev))
    names = [n for n, _ in events]
    assert "synced" in names and names[0] == "goal"  # the snapshot comes first
    states = {}
    for n, d in events:
        if n == "task":
            states.setdefault(d["task"], []).append(d["state"])
    children = [t for t in states if t.count(".") == 1 and t != f"{goal}.0"]
    assert len(children) == 2
    for t in children:  # each child was seen running (leased) and then done, in that order
        seen = states[t]
        assert seen[-1] == "succeeded" and any(s in ("leased", "running") for s in seen[:-1]), seen
    assert events[-1][1]["state"] == "succeeded"
    # A stream for a goal that does not exist is a 404, not an empty stream.
    assert request(port, "GET", "/api/goals/nope/events")[0] == 404


def test_metrics_parse_as_prometheus_text_and_count_the_work(procs, tmp_path):
    url, port, _ = start(procs, tmp_path, data=tmp_path / "data")
    start_drones(procs, url, 2, slots=2)
    code, r = submit_wait(url, "--exec", "/bin/echo", "hi", "--count", "5")
    assert code == 0
    status, headers, text = request(port, "GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    def value(name, **labels):
        return sum(s.value for s in families[name].samples
                   if s.name in (name, name + "_total") and all(s.labels.get(k) == v for k, v in labels.items()))
    assert value("hive_tasks", state="succeeded") == 5
    assert value("hive_tasks_finished", outcome="succeeded") == 5  # the parser names counter families without _total
    assert value("hive_drones", tier="worker", state="active") == 2
    assert value("hive_drone_slots", tier="worker") == 4
    dispatch = families["hive_dispatch_latency_seconds"]
    assert [s.value for s in dispatch.samples if s.name.endswith("_count")] == [5.0]  # forks are never leased
    assert value("hive_broker_connections") >= 3  # honeycombd and two drones
    assert value("hive_broker_messages_in") > 0
    assert [s.value for s in families["hive_journal_sync_seconds"].samples if s.name.endswith("_count")][0] > 0


def test_hostile_requests_do_not_disturb_the_hive(procs, tmp_path):
    url, port, _ = start(procs, tmp_path)
    start_drones(procs, url, 1)
    hostile = [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(200),  # a TLS hello
        b"GET / HTTP/1.1\r\n" + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n",  # oversized headers
        b"POST /api/goals HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",  # oversized body
        b"GET /api/goals HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # never finished (left open)
    ]
    open_socks = []
    for h in hostile:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(h)
        open_socks.append(s)
    for s in open_socks[:3]:
        answer = s.recv(4096)
        assert answer.startswith(b"HTTP/1.1 4"), answer[:80]
    # The bus and the scheduler carry on, and so does HTTP.
    code, r = submit_wait(url, "--exec", "/bin/echo", "still here")
    assert code == 0 and r["tasks"][0]["output"] == "still here\n"
    assert request(port, "GET", "/api/goals")[0] == 200
    for s in open_socks:
        s.close()
