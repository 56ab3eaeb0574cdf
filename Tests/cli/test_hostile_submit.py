"""Hostile and oversized submissions against real processes: numbers out of range and huge strings are refused
with the field's path and the limit; JSON nested past the limit is refused before decoding; lists and results
larger than one bus message page instead of being dropped; CLI waits end with a message."""
import json, subprocess, time

from conftest import HONEYCOMBD, hive
from test_control_plane import start_drones, start_honeycombd, submit_wait
from test_http import JSON, request, start


def submit_file(url, tmp_path, spec, *args, timeout=30):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(spec))
    return hive("submit", str(path), *args, "--honeycomb", url, timeout=timeout)


def test_extreme_numbers_are_refused_with_the_field_path_and_range(procs, tmp_path):
    url, http_port, _ = start(procs, tmp_path)
    wasm = {"kind": "wasm", "input": {"module": "0" * 64, "memory_mb": 1152921504606846976}}
    model = {"kind": "model", "input": {"prompt": "p", "top_k": 3000000000}}
    cases = [
        ({"root": wasm}, "root.input.memory_mb must be 1 to 4096 (got 1152921504606846976)"),
        ({"root": {"kind": "fork", "children": [{"kind": "noop"}] * 3 + [model]}},
         "root.children[3].input.top_k must be 0 to 100000 (got 3000000000)"),
        ({"root": {"kind": "sleep", "input": {"sleep_ms": -1}}}, "root.input.sleep_ms must be 0 to 604800000"),
        ({"root": {"kind": "noop"}, "budget": {"max_tasks": 10 ** 18}}, "budget.max_tasks must be 1 to 1000000"),
        ({"root": {"kind": "noop"}, "priority": -(2 ** 62)}, "priority must be -1000000 to 1000000"),
        ({"goal": "g", "steps": [{"id": "a", "max_reforks": 2 ** 40}]}, "steps[0].max_reforks must be 0 to 10"),
    ]
    for spec, expected in cases:
        r = submit_file(url, tmp_path, spec)
        assert r.returncode == 65 and expected in r.stderr, (expected, r.stderr)
        # The HTTP API refuses the same body the same way.
        status, _, body = request(http_port, "POST", "/api/goals", spec, JSON)
        assert status == 400 and expected in body["error"], (expected, body)
    assert json.loads(hive("goals", "--json", "--honeycomb", url).stdout) == []


def test_deep_nesting_and_huge_strings_are_refused_cleanly(procs, tmp_path):
    url, http_port, hc = start(procs, tmp_path)
    deep = '{"root":' + '{"kind":"fork","children":[' * 5000 + '{"kind":"noop"}' + ']}' * 5000 + '}'
    status, _, body = request(http_port, "POST", "/api/goals", deep.encode(), JSON)
    assert status == 400 and "nests more than 144 levels deep" in body["error"], body
    tree = {"kind": "noop"}
    for _ in range(40):
        tree = {"kind": "fork", "children": [tree]}
    status, _, body = request(http_port, "POST", "/api/goals", {"root": tree}, JSON)
    assert status == 400 and "the goal's task tree is 41 deep; its budget allows 16 (budget.max_depth)" in body["error"], body
    cases = [
        ({"name": "n" * 2000, "root": {"kind": "noop"}}, "name is 2000 bytes; the limit is 1024"),
        ({"root": {"kind": "model", "input": {"prompt": "p" * 300000}}}, "root.input.prompt is 300000 bytes; the limit is 262144"),
        ({"root": {"kind": "exec", "input": {"command": "/bin/echo", "args": ["a"] * 2000}}}, "root.input.args has 2000 entries; the limit is 1024"),
        ({"root": {"kind": "model", "input": {"prompt": "p", "stop": ["s" * 300]}}}, "root.input.stop[0] is 300 bytes; the limit is 256"),
        ({"goal": "g" * 70000}, "goal is 70000 bytes; the limit is 65536"),
    ]
    for spec, expected in cases:
        r = submit_file(url, tmp_path, spec)
        assert r.returncode == 65 and expected in r.stderr, (expected, r.stderr)
    # Nothing crashed: honeycombd still answers.
    assert hc.poll() is None
    assert hive("status", "--honeycomb", url).returncode == 0


def test_lists_page_when_they_outgrow_one_message(procs, tmp_path):
    # A small max_payload makes the names (large, but within the limit) span several pages.
    url, http_port, _ = start(procs, tmp_path, max_payload=16384)
    names = [f"{i:04d}" + "x" * 1000 for i in range(30)]
    for n in names:
        r = hive("submit", "--exec", "/bin/true", "--name", n, "--honeycomb", url)
        assert r.returncode == 0, r.stderr
    r = hive("goals", "--json", "--honeycomb", url, timeout=20)
    assert r.returncode == 0, r.stderr
    assert [g["name"] for g in json.loads(r.stdout)] == names
    assert hive("goals", "--honeycomb", url, timeout=20).stdout.count("x" * 1000) == 30
    # HTTP: the same pages, with the next one named in a header.
    status, headers, first = request(http_port, "GET", "/api/goals?limit=7")
    assert status == 200 and len(first) == 7 and headers["Hive-Next-Cursor"] == "7"
    status, headers, page = request(http_port, "GET", "/api/goals?cursor=28")
    assert status == 200 and [g["name"] for g in page] == names[28:] and "Hive-Next-Cursor" not in headers
    status, _, all_at_once = request(http_port, "GET", "/api/goals?limit=1000")
    assert status == 200 and 0 < len(all_at_once) < 30, "a page is bounded by max_payload too"
    assert request(http_port, "GET", "/api/goals?cursor=99")[0] == 400
    assert request(http_port, "GET", "/api/goals?limit=0")[0] == 400


def test_a_reply_that_cannot_fit_is_an_error_not_silence(procs, tmp_path):
    url, _, hc = start(procs, tmp_path, max_payload=8192)
    start_drones(procs, url, 1, slots=8)
    code, r = submit_wait(url, "--exec", "/bin/echo", "hi", "--count", "60")
    assert code == 0 and len(r["tasks"]) == 60, "the result came in pages"
    began = time.monotonic()
    t = hive("trace", r["goal"]["goal"], "--honeycomb", url)
    assert t.returncode == 1 and "more than one bus message carries (max_payload 8192" in t.stderr, t.stderr
    assert time.monotonic() - began < 5


def test_twenty_thousand_noop_tasks_wait_returns_every_result(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    start_drones(procs, url, 3, slots=64)
    spec = {"name": "wide", "budget": {"max_tasks": 20001},
            "root": {"kind": "fork", "children": [{"kind": "noop"}] * 20000}}
    r = submit_file(url, tmp_path, spec, "--wait", "--json", timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout)
    assert result["goal"]["state"] == "succeeded"
    tasks = result["tasks"]
    assert len(tasks) == 20000 and len({t["task"] for t in tasks}) == 20000
    assert all(t["state"] == "succeeded" for t in tasks)
    # hive result and hive tasks put the pages together the same way.
    again = hive("result", result["goal"]["goal"], "--json", "--honeycomb", url, timeout=60)
    assert len(json.loads(again.stdout)["tasks"]) == 20000
    nodes = hive("tasks", result["goal"]["goal"], "--json", "--honeycomb", url, timeout=60)
    assert len(json.loads(nodes.stdout)) == 20001


def test_cli_waits_end_with_a_message(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    began = time.monotonic()
    r = hive("watch", "g999", "--honeycomb", url)
    assert r.returncode == 1 and "unknown goal 'g999'" in r.stderr
    assert time.monotonic() - began < 5
    # A goal no drone can run: the wait ends at its deadline, saying so.
    g = hive("submit", "--exec", "/bin/true", "--honeycomb", url).stdout.strip()
    for args in (["watch", g], ["submit", "--exec", "/bin/true", "--wait"]):
        began = time.monotonic()
        r = hive(*args, "--wait-timeout", "1", "--honeycomb", url)
        assert r.returncode == 75 and "still running after 1 s (--wait-timeout)" in r.stderr, r.stderr
        assert time.monotonic() - began < 6


def test_a_goal_over_max_spec_bytes_is_refused_before_decoding(procs, tmp_path):
    url, http_port, _ = start(procs, tmp_path, max_spec_bytes=4096)
    spec = {"root": {"kind": "fork", "children": [{"kind": "noop", "name": f"t{i}"} for i in range(300)]}}
    status, _, body = request(http_port, "POST", "/api/goals", spec, JSON)
    assert status == 413 and "honeycombd accepts at most 4096 (max_spec_bytes)" in body["error"], body
    r = submit_file(url, tmp_path, spec)
    assert r.returncode == 65 and "(max_spec_bytes)" in r.stderr, r.stderr
    small = {"root": {"kind": "noop"}}
    assert request(http_port, "POST", "/api/goals", small, JSON)[0] == 201
    bad = subprocess.run([HONEYCOMBD, "--max-spec-bytes", "10"], capture_output=True, text=True, timeout=10)
    assert bad.returncode != 0 and "max_spec_bytes" in bad.stderr and "must be 1024 to 268435456" in bad.stderr, bad.stderr
