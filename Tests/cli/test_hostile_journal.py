"""honeycombd's journal under damage and restarts: a corrupt record costs that record alone, ids are never
reused, times mean the same after a restart, and a restart does not start a lease/release hot loop."""
import glob, json, os, signal, struct, time

from conftest import DRONE, hive, wait_for_log, wait_until
from test_control_plane import start_drones, start_honeycombd


def records(path):
    """(offset, length) of each `[u32 len][u32 crc][json]` record."""
    data = open(path, "rb").read()
    out, off = [], 0
    while off + 8 <= len(data):
        (n,) = struct.unpack_from("<I", data, off)
        out.append((off, 8 + n))
        off += 8 + n
    return out


def goal_ids(url):
    r = hive("goals", "--json", "--honeycomb", url)
    assert r.returncode == 0, r.stderr
    return [g["goal"] for g in json.loads(r.stdout)]


def test_a_corrupt_record_costs_that_record_alone_and_ids_are_never_reused(procs, tmp_path):
    data = tmp_path / "data"
    hc = start_honeycombd(procs, tmp_path, data=data)
    port, url = hc.port, hc.url
    submitted = [json.loads(hive("submit", "--exec", "/bin/echo", str(i), "--json", "--honeycomb", url).stdout)["goal"]
                 for i in range(6)]
    assert submitted == [f"g{i}" for i in range(1, 7)]
    hc.send_signal(signal.SIGTERM)
    hc.wait(timeout=15)

    journal = data / "journal.log"
    recs = records(journal)
    assert len(recs) == 6
    raw = bytearray(journal.read_bytes())
    off, n = recs[1]
    raw[off + 8 + n // 2] ^= 0x20  # one flipped byte in record 2 of 6
    journal.write_bytes(bytes(raw))

    hc = start_honeycombd(procs, tmp_path, data=data, port=port)
    log = hc.startup_log
    assert "event=journal_damage_skipped" in log and f"offset={off}" in log and "goals=g2" in log, log
    assert "event=journal_damaged regions=1" in log, log
    kept = glob.glob(str(data / "journal.corrupt-*"))
    assert len(kept) == 1 and open(kept[0], "rb").read() == bytes(raw), "the damaged journal is kept as found"
    assert goal_ids(url) == ["g1", "g3", "g4", "g5", "g6"], "every intact record's goal survives"

    new = json.loads(hive("submit", "--exec", "/bin/echo", "new", "--json", "--honeycomb", url).stdout)["goal"]
    assert int(new[1:]) > 6, f"{new} may reuse the id of a goal that existed before the damage"

    # The survivors still run to the end.
    start_drones(procs, url, 1, allow="/bin/echo")
    for g in ["g1", "g3", "g4", "g5", "g6", new]:
        r = hive("watch", g, "--honeycomb", url, timeout=60)
        assert r.returncode == 0, r.stderr


def test_times_and_durations_mean_the_same_after_a_restart(procs, tmp_path):
    data = tmp_path / "data"
    hc = start_honeycombd(procs, tmp_path, data=data)
    port, url = hc.port, hc.url
    before = time.time() * 1000
    first = json.loads(hive("submit", "--exec", "/bin/sleep", "1", "--json", "--honeycomb", url).stdout)["goal"]
    # The goal waits for a drone across a kill -9 of honeycombd.
    hc.send_signal(signal.SIGKILL)
    hc.wait()
    start_honeycombd(procs, tmp_path, data=data, port=port)
    start_drones(procs, url, 1, allow="/bin/sleep")
    assert hive("watch", first, "--honeycomb", url, timeout=60).returncode == 0
    second = json.loads(hive("submit", "--exec", "/bin/sleep", "0", "--json", "--honeycomb", url).stdout)["goal"]
    assert hive("watch", second, "--honeycomb", url, timeout=60).returncode == 0
    after = time.time() * 1000

    goals = {g["goal"]: g for g in json.loads(hive("goals", "--json", "--honeycomb", url).stdout)}
    a, b = goals[first], goals[second]
    assert before - 1000 <= a["created_at"] <= after, "created_at is wall-clock time"
    assert a["created_at"] < a["finished_at"] <= b["created_at"] <= b["finished_at"] <= after + 1000
    result = json.loads(hive("result", first, "--json", "--honeycomb", url).stdout)
    assert result["ledger"]["wall_ms"] >= 1000, result["ledger"]
    trace = json.loads(hive("trace", first, "--json", "--honeycomb", url).stdout)
    for span in trace["spans"]:
        if span.get("end_unix_nano") is not None:
            assert span["end_unix_nano"] >= span["start_unix_nano"], span


def test_a_restart_while_a_full_drone_runs_does_not_start_a_release_loop(procs, tmp_path):
    data = tmp_path / "data"
    hc = start_honeycombd(procs, tmp_path, data=data)
    port, url = hc.port, hc.url
    drone = procs.start([DRONE, "--honeycomb", url, "--name", "d0", "--slots", "2", "--allow-exec", "/bin/sleep"])
    wait_for_log(drone, "event=joined")
    goal = json.loads(hive("submit", "--exec", "/bin/sleep", "4", "--count", "4", "--json", "--honeycomb", url).stdout)["goal"]

    def running():
        r = hive("tasks", goal, "--json", "--honeycomb", url)
        return r.returncode == 0 and sum(t["state"] == "running" for t in json.loads(r.stdout)) == 2
    wait_until("two tasks running on the 2-slot drone", running)
    hc.send_signal(signal.SIGKILL)
    hc.wait()

    start_honeycombd(procs, tmp_path, data=data, port=port)
    wait_until("the drone to rejoin", lambda: any(d["state"] == "active" for d in
                                                  json.loads(hive("drones", "--json", "--honeycomb", url).stdout or "[]")))
    journal = data / "journal.log"
    size = journal.stat().st_size
    t0 = time.monotonic()
    r = hive("watch", goal, "--honeycomb", url, timeout=90)
    assert r.returncode == 0, r.stderr
    grown = journal.stat().st_size - size
    # Four tasks re-leased a few times at most: about a kB. The hot loop wrote 75 kB to megabytes.
    assert grown < 16 * 1024, f"journal grew {grown} bytes in {time.monotonic() - t0:.1f} s after the restart"
    tasks = json.loads(hive("tasks", goal, "--json", "--honeycomb", url).stdout)
    assert all(t["state"] == "succeeded" for t in tasks if t["kind"] == "exec")


def test_a_drone_stopped_with_sigterm_has_left_and_a_killed_one_is_lost(procs, tmp_path):
    hc = start_honeycombd(procs, tmp_path)
    url = hc.url
    polite, killed = start_drones(procs, url, 2, slots=1)
    polite.send_signal(signal.SIGTERM)
    polite.wait(timeout=15)
    killed.send_signal(signal.SIGKILL)
    killed.wait()

    def states():
        listed = json.loads(hive("drones", "--json", "--honeycomb", url).stdout)
        return sorted((d["name"], d["state"]) for d in listed)
    wait_until("d0 left and d1 lost", lambda: states() == [("d0", "left"), ("d1", "lost")])
    table = hive("drones", "--honeycomb", url).stdout
    assert "left" in table and "lost" in table, table


def test_ids_are_not_reused_when_the_snapshot_is_moved_away(procs, tmp_path):
    data = tmp_path / "data"
    extra = {"journal_compact_bytes": 4096}
    hc = start_honeycombd(procs, tmp_path, data=data, extra=extra)
    port, url = hc.port, hc.url
    start_drones(procs, url, 1, slots=4, allow="/bin/echo")
    for _ in range(3):
        r = hive("submit", "--exec", "/bin/echo", "x", "--count", "20", "--wait", "--json", "--honeycomb", url, timeout=60)
        assert r.returncode == 0, r.stderr
    wait_until("a compaction", lambda: (data / "snapshot.json").exists())
    hc.send_signal(signal.SIGTERM)
    hc.wait(timeout=15)
    # The operator's way out of an unreadable snapshot: move it away and start from the journal alone.
    (data / "snapshot.json").rename(data / "snapshot.json.bad")
    start_honeycombd(procs, tmp_path, data=data, extra=extra, port=port)
    new = json.loads(hive("submit", "--exec", "/bin/echo", "y", "--json", "--honeycomb", url).stdout)["goal"]
    assert int(new[1:]) > 3, f"{new} reuses the id of a goal from before the snapshot"


def test_ids_are_not_reused_when_the_last_records_length_is_damaged_and_goal_ids_is_gone(procs, tmp_path):
    data = tmp_path / "data"
    hc = start_honeycombd(procs, tmp_path, data=data)
    port, url = hc.port, hc.url
    for i in range(5):
        hive("submit", "--exec", "/bin/echo", str(i), "--honeycomb", url)
    hc.send_signal(signal.SIGTERM)
    hc.wait(timeout=15)
    journal = data / "journal.log"
    off, _ = records(journal)[-1]
    raw = bytearray(journal.read_bytes())
    (n,) = struct.unpack_from("<I", raw, off)
    struct.pack_into("<I", raw, off, n + 100)  # the last record now runs past the end: it looks like a torn append
    journal.write_bytes(bytes(raw))
    (data / "goal-ids").unlink()
    hc = start_honeycombd(procs, tmp_path, data=data, port=port)
    assert "event=journal_tail_cut" in hc.startup_log
    new = json.loads(hive("submit", "--exec", "/bin/echo", "new", "--json", "--honeycomb", url).stdout)["goal"]
    assert int(new[1:]) > 5, f"{new} reuses the id of the goal whose record was cut"
