"""Hostile bytes on a JetStream journal (--journal jetstream://STREAM): anyone who may publish on the journal's
subjects can put messages there, and anyone who may answer on $JS.API can answer before the server. honeycombd must
not crash, read for ever, or lose what it acknowledged:

- a foreign message on STREAM.records while a leader serves moves the stream's end: the leader's next write is
  refused (fenced) and it steps down (exit 75); a restart skips the foreign record as damage naming its sequence
  (like the file journal's corrupt record) and serves every acknowledged goal;
- a foreign snapshot chunk (impossible headers, or unreadable while nothing was missed) is ignored;
- $JS.API answers with absurd sequences (near UInt64.max, a span of 2^64) start cleanly or stop with the numbers
  and the `max_read` limit;
- a standby serves nothing: no API on the bus, no drone hello, no HTTP."""
import asyncio, json, os, signal, subprocess, threading

import nats
import pytest

import conftest
from conftest import HONEYCOMBD, free_port, hive, wait_for_log, wait_until
from test_control_plane import start_drones, submit_wait
from test_jetstream_journal import js_server

U64 = (1 << 64) - 1


def honeycombd(procs, tmp_path, nats_url, *extra, stream="HIVE", name="hc", http="off"):
    """honeycombd on `stream` (created if missing), not waited for."""
    cfg = tmp_path / f"{name}.json"
    cfg.write_text(json.dumps({"heartbeat_ms": 200, "drone_lost_after_ms": 600}))
    return procs.start([os.path.abspath(HONEYCOMBD), "--config", str(cfg), "--nats", nats_url, "--http", http,
                        "--journal", f"jetstream://{stream}", "--journal-create", *extra])


def publish(url, subject, payload, headers=None):
    """Publishes through JetStream (nats-py) as a foreign writer would; returns the stream sequence."""
    async def go():
        nc = await nats.connect(url)
        ack = await nc.jetstream().publish(subject, payload, headers=headers)
        await nc.close()
        return ack.seq
    return asyncio.run(go())


def test_a_foreign_record_fences_the_leader_and_a_restart_skips_it_naming_its_sequence(procs, tmp_path):
    url = f"nats://127.0.0.1:{js_server(procs, tmp_path)}"
    hc = honeycombd(procs, tmp_path, url)
    wait_for_log(hc, "event=serving", timeout=30)
    start_drones(procs, url, 1, slots=2)
    code, before = submit_wait(url, "--exec", "/bin/echo", "before", "--count", "3")
    assert code == 0
    foreign = publish(url, "HIVE.records", b"\x00\xff not a journal record\n" * 50)

    # The leader's next write expects the end it wrote last: refused, so it steps down without writing.
    r = hive("submit", "--exec", "/bin/echo", "during", "--json", "--honeycomb", url, timeout=30)
    assert hc.wait(timeout=30) == 75, "the fenced leader steps down (exit 75)"
    log = hc.stderr.read()
    assert "event=stepped_down" in log and "fenced out" in log, log[-3000:]
    during = json.loads(r.stdout)["goal"] if r.returncode == 0 else None

    # A restart: the foreign record is damage, skipped and logged with its sequence; nothing acknowledged is lost.
    again = honeycombd(procs, tmp_path, url, name="hc2")
    lines = "".join(wait_for_log(again, "event=serving", timeout=30))
    assert "event=journal_damage_skipped" in lines and f"stream sequence {foreign}" in lines, lines
    assert "event=journal_damaged" in lines
    res = json.loads(hive("result", before["goal"]["goal"], "--json", "--honeycomb", url).stdout)
    assert res["goal"]["state"] == "succeeded" and [t["output"] for t in res["tasks"]] == ["before\n"] * 3
    if during is not None:  # answered only if its record was durable before the fence: then it must be there
        assert hive("goal", during, "--json", "--honeycomb", url).returncode == 0
    code, after = submit_wait(url, "--exec", "/bin/echo", "after")
    assert code == 0 and after["tasks"][0]["output"] == "after\n"
    again.send_signal(signal.SIGTERM)
    assert again.wait(timeout=30) == 0


def snapshot_headers(snap_id, covers, chunk=1, chunks=1):
    return {"Hive-Snapshot": snap_id, "Hive-Snapshot-Chunk": str(chunk), "Hive-Snapshot-Chunks": str(chunks),
            "Hive-Snapshot-Covers": str(covers)}


def test_foreign_snapshot_chunks_are_ignored(procs, tmp_path):
    url = f"nats://127.0.0.1:{js_server(procs, tmp_path)}"
    hc = honeycombd(procs, tmp_path, url)
    wait_for_log(hc, "event=serving", timeout=30)
    start_drones(procs, url, 1)
    code, done = submit_wait(url, "--exec", "/bin/echo", "kept")
    assert code == 0
    hc.send_signal(signal.SIGTERM)
    assert hc.wait(timeout=30) == 0

    # Covering everything up to the end of time would hide every record: not a snapshot honeycombd wrote.
    publish(url, "HIVE.snapshot", b"{}", headers=snapshot_headers("x1", U64))
    # Absurd chunk numbers are not snapshots either.
    publish(url, "HIVE.snapshot", b"{}", headers=snapshot_headers("x2", 1, chunk=-3, chunks=1))
    publish(url, "HIVE.snapshot", b"{}", headers=snapshot_headers("x3", 1, chunk=1, chunks=1 << 40))
    again = honeycombd(procs, tmp_path, url, name="hc2")
    lines = "".join(wait_for_log(again, "event=serving", timeout=30))
    assert "from_snapshot=false" in lines or "snapshot_covers=0" in lines, lines
    res = json.loads(hive("result", done["goal"]["goal"], "--json", "--honeycomb", url).stdout)
    assert res["goal"]["state"] == "succeeded"
    again.send_signal(signal.SIGTERM)
    assert again.wait(timeout=30) == 0

    # A complete, plausible-looking chunk that does not decode: nothing was missed, so no snapshot is needed and
    # it is not read; honeycombd serves every goal.
    publish(url, "HIVE.snapshot", b"\x00 not a snapshot", headers=snapshot_headers("x4", 1))
    third = honeycombd(procs, tmp_path, url, name="hc3")
    wait_for_log(third, "event=serving", timeout=30)
    res = json.loads(hive("result", done["goal"]["goal"], "--json", "--honeycomb", url).stdout)
    assert res["goal"]["state"] == "succeeded"


class FakeJetStream:
    """Answers $JS.API (and the journal's publishes) on a plain nats-server with the stream state a test picks: what
    a party allowed to answer on $JS.API can tell honeycombd. Counts the journal stream's message reads."""

    def __init__(self, url, state):
        self.url, self.state, self.gets = url, state, 0
        self.bad_acks = False  # answer the journal's publishes with a sequence that is not a number
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self.serve(), self.loop).result(timeout=10)

    @staticmethod
    def info(name, subjects, state):
        return {"config": {"name": name, "subjects": subjects, "retention": "limits", "storage": "file",
                           "num_replicas": 1, "max_msgs": -1, "max_bytes": -1, "max_age": 0, "max_msg_size": -1},
                "state": state}

    async def serve(self):
        self.nc = await nats.connect(self.url)

        async def answer(m):
            s = m.subject
            if s == "$JS.API.STREAM.INFO.HIVE":
                body = self.info("HIVE", ["HIVE.>"], self.state)
            elif s == "$JS.API.STREAM.INFO.KV_HIVE_lease":
                body = self.info("KV_HIVE_lease", ["$KV.HIVE_lease.>"], {"messages": 0, "bytes": 0, "first_seq": 0, "last_seq": 0})
            elif s.startswith("$JS.API.STREAM.MSG.GET."):
                self.gets += s == "$JS.API.STREAM.MSG.GET.HIVE"
                body = {"error": {"code": 404, "err_code": 10037, "description": "no message found"}}
            elif s.startswith("$KV.HIVE_lease."):
                body = {"stream": "KV_HIVE_lease", "seq": 1}
            elif s.startswith("HIVE."):
                body = {"stream": "HIVE", "seq": "not a number" if self.bad_acks else U64}
            else:
                body = {"success": True, "purged": 0}
            if m.reply:
                await self.nc.publish(m.reply, json.dumps(body).encode())

        for subject in ("$JS.API.>", "$KV.>", "HIVE.>"):
            await self.nc.subscribe(subject, cb=answer)
        await self.nc.flush()

    def close(self):
        asyncio.run_coroutine_threadsafe(self.nc.close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_stream_sequences_near_the_top_of_uint64_neither_trap_nor_wrap(procs, tmp_path):
    url = f"nats://127.0.0.1:{procs.nats_server()}"
    fake = FakeJetStream(url, {"messages": 11, "bytes": 0, "first_seq": U64 - 10, "last_seq": U64})
    try:
        hc = honeycombd(procs, tmp_path, url)
        wait_for_log(hc, "event=serving", timeout=30)
        # The last sequence a stream can have is never read (the reader's cursor must be able to pass it).
        assert fake.gets == 10, f"{fake.gets} message reads for 11 sequences"
        assert hc.poll() is None
        hc.send_signal(signal.SIGTERM)
        assert hc.wait(timeout=30) == 0
    finally:
        fake.close()


def test_an_unreadable_publish_ack_steps_the_leader_down_instead_of_serving_without_a_journal(procs, tmp_path):
    url = f"nats://127.0.0.1:{procs.nats_server()}"
    fake = FakeJetStream(url, {"messages": 0, "bytes": 0, "first_seq": 0, "last_seq": 0})
    try:
        hc = honeycombd(procs, tmp_path, url)
        wait_for_log(hc, "event=serving", timeout=30)
        fake.bad_acks = True
        r = hive("submit", "--exec", "/bin/echo", "x", "--json", "--honeycomb", url, timeout=30)
        assert r.returncode != 0, "a goal whose record is not durable is not acknowledged"
        # A writer that stopped for good would leave a leader holding the lease with no journal: it steps down.
        assert hc.wait(timeout=30) == 75
        log = hc.stderr.read()
        assert "event=stepped_down" in log and "unreadable JetStream answer" in log, log[-3000:]
    finally:
        fake.close()


@pytest.mark.parametrize("state,query,words", [
    ({"messages": 3, "bytes": 0, "first_seq": 1, "last_seq": U64}, "", [f"spans {U64} sequences", "max_read=N", str(1 << 24)]),
    ({"messages": 11, "bytes": 0, "first_seq": 1, "last_seq": 11}, "?max_read=10", ["spans 11 sequences", "at most 10"]),
])
def test_a_stream_spanning_more_than_max_read_stops_startup_with_the_numbers(procs, tmp_path, state, query, words):
    url = f"nats://127.0.0.1:{procs.nats_server()}"
    fake = FakeJetStream(url, state)
    try:
        r = subprocess.run([HONEYCOMBD, "--nats", url, "--journal", f"jetstream://HIVE{query}", "--http", "off"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0
        for w in words:
            assert w in r.stderr, r.stderr[-2000:]
        assert fake.gets == 0, "nothing is read of a stream that will not be read whole"
    finally:
        fake.close()


def test_a_standby_serves_no_api_no_drone_and_no_http(procs, tmp_path):
    url = f"nats://127.0.0.1:{js_server(procs, tmp_path)}"
    # A long lease: while the active one is stopped, the standby does not take over within this test.
    active = honeycombd(procs, tmp_path, url, "--leader-heartbeat-ms", "20000")
    wait_for_log(active, "event=serving", timeout=30)
    http_port = free_port()
    standby = honeycombd(procs, tmp_path, url, "--leader-heartbeat-ms", "20000", name="standby",
                         http=f"127.0.0.1:{http_port}")
    wait_for_log(standby, "event=standby", timeout=30)
    active.send_signal(signal.SIGSTOP)
    try:
        async def ask():
            nc = await nats.connect(url)
            out = {}
            for subject, body in (("hive.v1.api.goals", b"{}"),
                                  ("hive.v1.drone.d9.hello", json.dumps({"drone": "d9", "name": "d9", "tier": "worker", "slots": 1,
                                                                         "capabilities": ["backend:exec", "exec:/bin/echo"], "version": "0.1.0"}).encode())):
                try:
                    await nc.request(subject, body, timeout=2)
                    out[subject] = "answered"
                except nats.errors.NoRespondersError:
                    out[subject] = "no responders"
                except nats.errors.TimeoutError:
                    out[subject] = "timeout"
            await nc.close()
            return out
        answers = asyncio.run(ask())
        assert set(answers.values()) <= {"no responders", "timeout"}, answers
        r = hive("submit", "--exec", "/bin/echo", "x", "--honeycomb", url, timeout=30)
        assert r.returncode != 0, r.stdout
        import socket
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", http_port), timeout=2).close()
        assert standby.poll() is None
    finally:
        active.send_signal(signal.SIGCONT)


def test_foreign_bytes_in_the_lease_step_the_leader_down_and_a_standby_takes_over(procs, tmp_path):
    url = f"nats://127.0.0.1:{js_server(procs, tmp_path)}"
    active = honeycombd(procs, tmp_path, url, "--leader-heartbeat-ms", "500")
    wait_for_log(active, "event=serving", timeout=30)
    start_drones(procs, url, 1)
    code, before = submit_wait(url, "--exec", "/bin/echo", "before")
    assert code == 0
    standby = honeycombd(procs, tmp_path, url, "--leader-heartbeat-ms", "500", name="standby")
    wait_for_log(standby, "event=standby", timeout=30)

    # A lease value with a 100 KB holder and a negative heartbeat, written over the active one's.
    publish_plain(url, "$KV.HIVE_lease.leader", json.dumps({"holder": "x" * 100_000, "heartbeat_ms": -5}).encode())
    assert active.wait(timeout=30) == 75, "a renewal refused by a foreign write steps the leader down"
    assert "another honeycombd holds the leader lease" in active.stderr.read()
    lines = wait_for_log(standby, "event=serving", timeout=30)
    seen = [l for l in lines if "event=standby" in l or "event=lease_acquired" in l]
    assert seen and all(len(l) < 1000 for l in seen), [len(l) for l in seen]
    assert any("x" * 128 in l and "x" * 129 not in l for l in seen), seen
    res = json.loads(hive("result", before["goal"]["goal"], "--json", "--honeycomb", url).stdout)
    assert res["goal"]["state"] == "succeeded"
    code, after = submit_wait(url, "--exec", "/bin/echo", "after")
    assert code == 0 and after["tasks"][0]["output"] == "after\n"


def publish_plain(url, subject, payload):
    """A core NATS publish (a KV put without the KV client: what any publisher on the subject can send)."""
    async def go():
        nc = await nats.connect(url)
        await nc.publish(subject, payload)
        await nc.flush()
        await nc.close()
    asyncio.run(go())


def framed(event):
    """One journal record as the writer frames it: length, CRC-32, JSON (a forger can compute the checksum too)."""
    import struct, zlib
    body = json.dumps(event).encode()
    return struct.pack("<II", len(body), zlib.crc32(body)) + body


def test_forged_records_with_absurd_numbers_replay_without_a_trap(procs, tmp_path):
    url = f"nats://127.0.0.1:{js_server(procs, tmp_path)}"
    hc = honeycombd(procs, tmp_path, url)
    wait_for_log(hc, "event=serving", timeout=30)
    start_drones(procs, url, 1)
    code, done = submit_wait(url, "--exec", "/bin/echo", "kept")
    assert code == 0 and done["goal"]["goal"] == "g1"
    hc.send_signal(signal.SIGTERM)
    assert hc.wait(timeout=30) == 0

    spec = {"budget": {"max_attempts": 3, "max_depth": 16, "max_tasks": 3, "deadline_ms": 1000}, "name": "forged", "priority": 0,
            "root": {"input": {"args": ["x"], "command": "/bin/echo"}, "kind": "exec"}}
    top = (1 << 63) - 1
    forged = [{"goalSubmitted": {"at": top, "goal": "g5", "spec": spec}},  # its deadline overflowed
              {"goalSubmitted": {"at": 1, "goal": f"g{top}", "spec": spec}}]  # numbering after it overflowed
    publish(url, "HIVE.records", b"".join(framed(e) for e in forged))
    again = honeycombd(procs, tmp_path, url, name="hc2")
    wait_for_log(again, "event=serving", timeout=30)
    res = json.loads(hive("result", "g1", "--json", "--honeycomb", url).stdout)
    assert res["goal"]["state"] == "succeeded"
    code, after = submit_wait(url, "--exec", "/bin/echo", "after")
    assert code == 0 and after["goal"]["goal"] == "g6", "numbering goes on after the forged g5, not past the forged huge one"
    assert again.poll() is None
