"""A hostile MCP server under a drone: one whose tool list changes at every tools/list and that sends
notifications/tools/list_changed right after each answer (storm_mcp_server.py, a real stdio server process). The
drone announces its new tools at most once per heartbeat period, not once per listing, and neither its log nor
honeycombd's grows a line per listing."""
import asyncio, json, os, pathlib, sys, threading, time

import nats

from conftest import DRONE, start_honeycombd, wait_for_log

STORM = str(pathlib.Path(__file__).resolve().parent / "storm_mcp_server.py")
HEARTBEAT_MS = 500


def test_a_list_changed_storm_is_announced_once_per_heartbeat(procs, tmp_path):
    cfg = tmp_path / "hc.json"
    cfg.write_text(json.dumps({"heartbeat_ms": HEARTBEAT_MS, "http": "off"}))
    hc = start_honeycombd(procs, "--config", str(cfg), "--data", str(tmp_path / "data"), http=None)
    d = procs.start([DRONE, "--honeycomb", hc.url, "--name", "stormy", "--api", "openai", "--base-url", "http://127.0.0.1:9",
                     "--api-model", "tiny", "--mcp", f"storm={sys.executable} {STORM}"])
    wait_for_log(d, "event=joined", timeout=60)
    # The drone's log, read as it comes (an unread pipe would stop the drone at its first blocked write).
    log = []
    threading.Thread(target=lambda: log.extend(iter(d.stderr.readline, "")), daemon=True).start()

    async def hellos(seconds):
        nc = await nats.connect(hc.url)
        seen = []
        async def count(m):
            seen.append(json.loads(m.data)["tools"][0]["pin"])
        await nc.subscribe("hive.v1.drone.stormy.hello", cb=count)
        await nc.flush()
        started = time.monotonic()
        while time.monotonic() - started < seconds:  # a window to count in, not a synchronization
            await asyncio.sleep(0.1)
        await nc.close()
        return seen

    seconds = 3
    seen = asyncio.run(hellos(seconds))
    assert len(seen) >= 2, "the changes are still announced"
    assert len(set(seen)) == len(seen), "each hello carries the newest definition"
    assert len(seen) <= seconds * 1000 / HEARTBEAT_MS + 2, f"{len(seen)} hellos in {seconds} s"
    assert d.poll() is None and hc.poll() is None
    changed = [l for l in log if "event=tools_changed" in l]
    assert 1 <= len(changed) <= seconds + 3, f"{len(changed)} tools_changed lines: one a second, the rest counted"
    assert any("suppressed=" in l and "suppressed=0" not in l for l in changed), changed[:3]
