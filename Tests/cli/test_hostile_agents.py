"""Agent tasks (`kind: agent`) with hostile numbers and names, submitted to a real honeycombd by `hive submit` and
over HTTP: every one is refused at submission with the field's path and the limit (a drone clamps again, but a goal
that could never run is refused here), and nothing is accepted."""
import json

from conftest import hive
from test_http import JSON, request, start

PIN = "sha256:" + "a" * 64


def agent(**fields):
    return {"root": {"kind": "agent", "input": {"prompt": "what time is it?", "agent": {"tools": ["exec.date"], **fields}}}}


def test_hostile_agent_numbers_names_and_pins_are_refused_with_the_field_path(procs, tmp_path):
    url, http_port, _ = start(procs, tmp_path)
    cases = [
        (agent(max_steps=2 ** 63 - 1), "root.input.agent.max_steps must be 1 to 32 (got 9223372036854775807)"),
        (agent(max_steps=0), "root.input.agent.max_steps must be 1 to 32 (got 0)"),
        (agent(max_wall_ms=-1), "root.input.agent.max_wall_ms must be 1 to 604800000 (got -1)"),
        (agent(call_timeout_ms=-(2 ** 63)), "root.input.agent.call_timeout_ms must be 1 to 604800000"),
        (agent(tools=[f"mcp.t{i}" for i in range(10_000)]), "root.input.agent.tools has 10000 entries; the limit is 64"),
        (agent(tools=["exec.da\u0000te"]), "is not a tool name"),
        (agent(tools=["exec.dätë"]), "is not a tool name"),
        (agent(tools=["\u202eexec.date"]), "is not a tool name"),
        (agent(pins={"exec.date": "sha256:abc"}), "root.input.agent.pins.exec.date must be sha256: and 64 lowercase hex digits"),
        (agent(pins={"exec.date": "sha256:" + "A" * 64}), "root.input.agent.pins.exec.date must be sha256: and 64 lowercase hex digits"),
        (agent(pins={"exec.date": "md5:" + "a" * 32}), "root.input.agent.pins.exec.date must be sha256: and 64 lowercase hex digits"),
        (agent(pins={"exec.other": PIN}), "agent.pins has exec.other, which is not in agent.tools"),
    ]
    for spec, expected in cases:
        path = tmp_path / "plan.json"
        path.write_text(json.dumps(spec))
        r = hive("submit", str(path), "--honeycomb", url, timeout=30)
        assert r.returncode == 65 and expected in r.stderr, (expected, r.stderr[-500:])
        status, _, body = request(http_port, "POST", "/api/goals", spec, JSON)
        assert status == 400 and expected in body["error"], (expected, body)
    # 2^63 does not fit the field's integer at all: Foundation's decoder calls the whole body invalid JSON (no path),
    # so the refusal cannot name the field; it is a refusal all the same, and nothing is accepted.
    body = json.dumps(agent()).replace('"tools"', '"max_steps": 9223372036854775808, "tools"')
    status, _, reply = request(http_port, "POST", "/api/goals", body.encode(), JSON)
    assert status == 400 and reply["error"].startswith("unreadable goal"), (status, reply)
    path = tmp_path / "plan.json"
    path.write_text(body)
    r = hive("submit", str(path), "--honeycomb", url, timeout=30)
    assert r.returncode == 65 and "not valid JSON" in r.stderr, r.stderr[-500:]
    assert json.loads(hive("goals", "--json", "--honeycomb", url).stdout) == []
    # A well-formed pin is accepted (the goal waits for a drone offering the tool at that pin).
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps(agent(pins={"exec.date": PIN}, max_steps=32, max_wall_ms=1000, call_timeout_ms=1)))
    r = hive("submit", str(ok), "--honeycomb", url, timeout=30)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(hive("goals", "--json", "--honeycomb", url).stdout)) == 1
