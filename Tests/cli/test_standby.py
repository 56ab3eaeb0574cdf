"""Active/standby honeycombd on one JetStream journal (issue 20): two honeycombd on one stream of a real nats-server
-js; the one holding the leader lease serves, the other stands by. SIGKILL of the active one mid-goal: the standby
serves within 3 heartbeats, the goal succeeds, nothing acknowledged is lost. SIGSTOP past the lease (split brain):
the standby takes over, and the old one, resumed, writes nothing more to the stream and steps down."""
import asyncio, json, os, signal, subprocess, time

import conftest
from conftest import hive, wait_for_log, wait_until
from test_control_plane import start_drones, submit_wait
from test_jetstream_journal import js_server, tasks_in_goal

HEARTBEAT_MS = 1000


def start_honeycombd(procs, tmp_path, nats, name, *extra, config=None, stream="jetstream://HIVE"):
    """A honeycombd on `stream` (created if missing), not waited for: a standby never gets on with serving."""
    cfg = tmp_path / f"{name}.json"
    cfg.write_text(json.dumps({"heartbeat_ms": 200, "drone_lost_after_ms": 600, "http": "off", **(config or {})}))
    return procs.start([os.path.abspath(conftest.HONEYCOMBD), "--config", str(cfg), "--nats", nats,
                        "--journal", stream, "--journal-create", "--leader-heartbeat-ms", str(HEARTBEAT_MS), *extra])


def field(lines, event, key):
    for line in lines:
        if f"event={event}" in line:
            for part in line.split():
                if part.startswith(key + "="):
                    return part.split("=", 1)[1]
    return None


def active_and_standby(procs, tmp_path, nats, config=None):
    active = start_honeycombd(procs, tmp_path, nats, "a", config=config)
    active.lines = wait_for_log(active, "event=serving", timeout=30)
    standby = start_honeycombd(procs, tmp_path, nats, "b", config=config)
    standby.lines = wait_for_log(standby, "event=standby", timeout=30)
    assert field(standby.lines, "standby", "holder") == field(active.lines, "serving", "holder")
    assert not any("event=bus_connected" in line for line in standby.lines), "a standby serves nothing"
    return active, standby


def test_the_standby_serves_within_three_heartbeats_of_a_sigkill_and_the_goal_succeeds(procs, tmp_path):
    nats = f"nats://127.0.0.1:{js_server(procs, tmp_path)}"
    active, standby = active_and_standby(procs, tmp_path, nats)
    start_drones(procs, nats, 3, slots=2)
    code, before = submit_wait(nats, "--exec", "/bin/echo", "acknowledged", "--count", "10")
    assert code == 0
    n = 60
    sub = subprocess.Popen([os.environ.get("HIVE", "hive"), "submit", "--exec", "/bin/sh", "-c",
                            "sleep 0.1; echo $HIVE_TASK_INDEX", "--count", str(n), "--wait", "--json",
                            "--honeycomb", nats], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until("the running goal is under way", lambda: len(tasks_in_goal(nats, 1, {"succeeded"})) > 0)
    killed = time.monotonic()
    active.send_signal(signal.SIGKILL)
    active.wait()
    lines = wait_for_log(standby, "event=serving", timeout=30)
    took = time.monotonic() - killed
    print(f"failover: serving {took:.2f} s after SIGKILL (heartbeat {HEARTBEAT_MS} ms)")
    assert took <= 3 * HEARTBEAT_MS / 1000, f"the standby served {took:.2f} s after the kill: over 3 heartbeats"
    assert any("event=lease_acquired" in line for line in lines)
    # It tailed the stream while standing by: the takeover read only what its last poll had not seen.
    warm, late = int(field(lines, "jetstream_opened", "applied_while_standing_by")), int(field(lines, "jetstream_opened", "read_at_takeover"))
    print(f"read while standing by: {warm} messages, at takeover: {late}")
    assert warm > 0 and late < warm, lines
    out, err = sub.communicate(timeout=120)
    assert sub.returncode == 0, err
    assert sorted(int(t["output"].strip()) for t in json.loads(out)["tasks"]) == list(range(n))
    r = json.loads(hive("result", before["goal"]["goal"], "--json", "--honeycomb", nats).stdout)
    assert r["goal"]["state"] == "succeeded" and [t["output"] for t in r["tasks"]] == ["acknowledged\n"] * 10


def stream_messages(nats, stream):
    """Every message in `stream` as (seq, subject, Nats-Msg-Id), read with nats-py."""
    import nats as nats_py

    async def read():
        nc = await nats_py.connect(nats)
        js = nc.jetstream()
        info = await js.stream_info(stream)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                m = await js.get_msg(stream, seq)
            except nats_py.js.errors.NotFoundError:
                continue
            out.append((m.seq, m.subject, (m.headers or {}).get("Nats-Msg-Id", "")))
        await nc.close()
        return out
    return asyncio.run(read())


def test_a_leader_stopped_past_its_lease_writes_nothing_after_it_resumes_and_steps_down(procs, tmp_path):
    nats = f"nats://127.0.0.1:{js_server(procs, tmp_path)}"
    old, new = active_and_standby(procs, tmp_path, nats)
    old_writer = field(old.lines, "jetstream_opened", "writer")
    assert old_writer
    start_drones(procs, nats, 2, slots=2)
    code, before = submit_wait(nats, "--exec", "/bin/echo", "before", "--count", "4")
    assert code == 0
    # Work in flight on the old leader: its drones' results reach it only after it resumes.
    running = subprocess.Popen([os.environ.get("HIVE", "hive"), "submit", "--exec", "/bin/sh", "-c", "sleep 0.3; echo x",
                                "--count", "20", "--json", "--honeycomb", nats], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = running.communicate(timeout=60)
    assert running.returncode == 0, err
    old.send_signal(signal.SIGSTOP)
    try:
        lines = wait_for_log(new, "event=serving", timeout=30)
    finally:
        old.send_signal(signal.SIGCONT)
    new_writer = field(lines, "jetstream_opened", "writer")
    assert old.wait(timeout=30) == 75, "the old leader steps down (exit 75) once it resumes"
    old_log = old.stderr.read()
    assert "event=stepped_down" in old_log, old_log
    print([line for line in old_log.splitlines() if "event=stepped_down" in line])
    # The stream: after the new leader's takeover marker, nothing from the old writer.
    messages = stream_messages(nats, "HIVE")
    marker = [seq for seq, subject, _ in messages if subject == "HIVE.leader"][-1]
    after = [(seq, msg_id) for seq, _, msg_id in messages if seq > marker]
    assert not [m for m in after if m[1].startswith(old_writer + "-")], (old_writer, after)
    # The goal survives, and the new leader keeps working.
    code, done = submit_wait(nats, "--exec", "/bin/echo", "after", "--count", "4")
    assert code == 0 and [t["output"] for t in done["tasks"]] == ["after\n"] * 4
    assert new_writer and any(msg_id.startswith(new_writer + "-") for _, _, msg_id in stream_messages(nats, "HIVE"))
    r = json.loads(hive("result", before["goal"]["goal"], "--json", "--honeycomb", nats).stdout)
    assert r["goal"]["state"] == "succeeded"


def test_sigterm_hands_the_lease_over_at_once_and_stops_a_standby(procs, tmp_path):
    nats = f"nats://127.0.0.1:{js_server(procs, tmp_path)}"
    active, standby = active_and_standby(procs, tmp_path, nats)
    stopped = time.monotonic()
    active.send_signal(signal.SIGTERM)
    wait_for_log(standby, "event=serving", timeout=30)
    took = time.monotonic() - stopped
    # A lapse would take at least a heartbeat more (two heartbeats after a renewal at most one heartbeat old).
    assert took < HEARTBEAT_MS / 1000, f"the standby served {took:.2f} s after SIGTERM: the lease was not handed over"
    assert active.wait(timeout=30) == 0
    assert "event=lease_released" in active.stderr.read()
    # A standby stops on SIGTERM while it waits for the lease.
    third = start_honeycombd(procs, tmp_path, nats, "c")
    wait_for_log(third, "event=standby", timeout=30)
    third.send_signal(signal.SIGTERM)
    assert third.wait(timeout=30) == 0
    assert "while=starting" in third.stderr.read()


def api_view(nats):
    """What the API serves: every goal, each one's tasks and result (JSON as the CLI prints it)."""
    def get(*args):
        r = hive(*args, "--json", "--honeycomb", nats, timeout=60)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)
    goals = get("goals")
    return {"goals": goals, **{g["goal"]: (get("tasks", g["goal"]), get("result", g["goal"])) for g in goals}}


def test_a_standby_warm_through_a_big_compacted_journal_takes_over_reading_only_the_tail(procs, tmp_path):
    """10,000 noop tasks (over 20,000 journal records) written and compacted while the standby stood by: it applied
    them as they came, so the takeover reads only what arrived since its last poll, and it serves what the active
    one served."""
    nats = f"nats://127.0.0.1:{js_server(procs, tmp_path)}"
    active, standby = active_and_standby(procs, tmp_path, nats, config={"journal_compact_bytes": 1 << 20})
    start_drones(procs, nats, 2, slots=64)
    r = subprocess.run([os.environ.get("HIVE", "hive"), "bench-control", "--url", nats, "--mode", "throughput",
                        "--tasks", "5000", "--rounds", "2"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    wait_for_log(active, "event=compacted", timeout=30)
    before = api_view(nats)
    assert len(before["goals"]) == 2 and all(g["state"] == "succeeded" for g in before["goals"]), before["goals"]
    killed = time.monotonic()
    active.send_signal(signal.SIGKILL)
    active.wait()
    lines = wait_for_log(standby, "event=serving", timeout=60)
    print(f"takeover: serving {time.monotonic() - killed:.2f} s after SIGKILL")
    warm = int(field(lines, "jetstream_opened", "applied_while_standing_by"))
    late = int(field(lines, "jetstream_opened", "read_at_takeover"))
    print(f"applied while standing by: {warm} messages, read at takeover: {late}")
    assert warm > 20 and late <= 5, lines
    after = api_view(nats)
    assert after == before, "the standby serves a state other than the active one's"
