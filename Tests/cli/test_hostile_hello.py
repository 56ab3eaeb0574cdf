"""Hostile drone hellos, spoken by a raw NATS client (nats-py) in the drone protocol: honeycombd checks every tool
name and pin a drone advertises (a pin is copied into each goal that uses the tool), refuses a bad hello with a
reason that names the field and the limit, registers nothing of it, and keeps serving."""
import asyncio, json, signal

import nats

from conftest import hive, start_honeycombd

PIN = "sha256:" + "ab" * 32


def hello(drone, tools=None, **extra):
    h = {"drone": drone, "name": drone, "tier": "worker", "slots": 1, "capabilities": ["backend:noop"],
         "version": "0.1.0"}
    if tools is not None:
        h["tools"] = tools
        h["capabilities"] += [f"tool:{t['name']}" for t in tools if isinstance(t.get("name"), str)]
    h.update(extra)
    return h


def tool(name="mcp.echo", pin=PIN, **extra):
    return {"name": name, "pin": pin, "side_effecting": False, "bytes": 100, **extra}


# (case, hello fields, words the refusal must contain)
REFUSED = [
    ("uppercase pin", {"tools": [tool(pin="sha256:" + "AB" * 32)]}, ["pin", "sha256:", "64 lowercase hex"]),
    ("short pin", {"tools": [tool(pin="sha256:abc")]}, ["pin", "64 lowercase hex"]),
    ("pin of another hash", {"tools": [tool(pin="md5:" + "ab" * 38)]}, ["pin", "sha256:"]),
    ("pin with a NUL", {"tools": [tool(pin="sha256:" + "ab" * 31 + "a\u0000")]}, ["pin"]),
    ("empty pin", {"tools": [tool(pin="")]}, ["pin"]),
    ("name with a NUL", {"tools": [tool(name="mcp.ec\u0000ho")]}, ["<server>.<tool>"]),
    ("name with a slash", {"tools": [tool(name="mcp/../../etc.passwd")]}, ["<server>.<tool>"]),
    ("name without a server", {"tools": [tool(name="echo")]}, ["<server>.<tool>"]),
    ("name too long", {"tools": [tool(name="mcp." + "x" * 200)]}, ["<server>.<tool>", "128 bytes"]),
    ("name twice", {"tools": [tool(), tool(pin="sha256:" + "cd" * 32)]}, ["mcp.echo", "twice"]),
    ("too many tools", {"tools": [tool(name=f"mcp.t{i}") for i in range(1025)]}, ["1025 tools", "1024"]),
    ("negative definition bytes", {"tools": [tool(bytes=-1)]}, ["definition bytes"]),
    ("huge hostname", {"host": {"hostname": "h" * 100_000, "os": "linux", "cpus": 1, "memory_mb": 1}},
     ["host.hostname", "100000 bytes", "256"]),
    ("huge model description", {"models": [{"name": "m", "architecture": "a", "parameters": 1, "size_bytes": 1,
                                            "description": "d" * 5000, "context_length": 1, "sha256": "0"}]},
     ["models[0].description", "256"]),
]


def test_hellos_with_bad_tool_pins_names_or_facts_are_refused_with_the_reason(procs, tmp_path):
    hc = start_honeycombd(procs, "--data", str(tmp_path / "data"))

    async def speak():
        nc = await nats.connect(hc.url, max_reconnect_attempts=0)
        answers = {}
        for i, (case, fields, _) in enumerate(REFUSED):
            drone = f"bad{i}"
            msg = await nc.request(f"hive.v1.drone.{drone}.hello", json.dumps(hello(drone, **fields)).encode(), timeout=5)
            answers[case] = json.loads(msg.data)
        good = await nc.request("hive.v1.drone.good.hello", json.dumps(hello("good", tools=[tool()])).encode(), timeout=5)
        await nc.close()
        return answers, json.loads(good.data)

    answers, good = asyncio.run(speak())
    for case, _, words in REFUSED:
        a = answers[case]
        assert a["accepted"] is False, f"{case}: accepted"
        for w in words:
            assert w in a["reason"], f"{case}: {a['reason']!r} does not say {w!r}"
        assert "\u0000" not in a["reason"] and len(a["reason"]) < 400, f"{case}: {a['reason']!r}"
    assert good["accepted"] is True, good
    assert hc.poll() is None

    listed = {d["drone"]: d for d in json.loads(hive("drones", "--json", "--honeycomb", hc.url).stdout)}
    assert set(listed) == {"good"}, sorted(listed)
    assert listed["good"]["tool_pins"] == {"mcp.echo": PIN}

    hc.send_signal(signal.SIGTERM)
    _, err = hc.communicate(timeout=15)
    refused = [l for l in err.splitlines() if "event=drone_message_rejected" in l and "drone=bad" in l]
    assert refused and all("level=warn" in l for l in refused), err[-2000:]
    assert "\u0000" not in err
