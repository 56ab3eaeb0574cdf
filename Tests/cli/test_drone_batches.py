"""Lists of assignments and results between drones and honeycombd (DroneBatch): real drones that ask for lists and
one that does not share a goal; a hand-driven drone (nats-py) checks the wire itself — lists only when asked for,
each entry with its trace parent — and sends hostile result lists (duplicates, another drone's tokens and name,
mixed goals, garbage, a million entries): each entry is judged alone and honeycombd keeps serving."""
import asyncio, json

from conftest import DRONE, hive, wait_for_log
from test_control_plane import start_honeycombd, submit_wait


def noop_fork(tmp_path, n, name="fork"):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "root": {"kind": "fork", "children": [
        {"kind": "noop", "input": {"text": f"{name}-{i}"}} for i in range(n)]}}))
    return str(path)


def test_drones_with_and_without_lists_finish_one_goal_together(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    for name, batch in (("lists-0", "64"), ("lists-1", "8"), ("single", "1")):
        d = procs.start([DRONE, "--honeycomb", url, "--name", name, "--slots", "16", "--batch", batch])
        wait_for_log(d, "event=joined")
    code, r = submit_wait(url, noop_fork(tmp_path, 3000))
    assert code == 0, r["goal"]
    tasks = sorted(r["tasks"], key=lambda t: t["index"])
    assert [t["output"] for t in tasks] == [f"fork-{i}" for i in range(3000)]
    assert {t["drone"] for t in tasks} == {"lists-0", "lists-1", "single"}, "every drone ran some"
    # Every run's span came back, in lists or in headers (a smaller goal: a trace reply is one bus message).
    code, r = submit_wait(url, noop_fork(tmp_path, 300, "traced"))
    assert code == 0, r["goal"]
    trace = hive("trace", r["goal"]["goal"], "--json", "--honeycomb", url)
    assert trace.returncode == 0, trace.stderr
    runs = [s for s in json.loads(trace.stdout)["spans"] if s["kind"] == "run"]
    assert len(runs) == 300 and len({s["span_id"] for s in runs}) == 300


def test_lists_only_when_asked_and_hostile_result_lists_are_judged_entry_by_entry(procs, tmp_path):
    import nats

    hc = start_honeycombd(procs, tmp_path, extra={"log_level": "info", "max_payload": 4 << 20, "max_batch": 16})
    url = hc.url
    plain = procs.start([DRONE, "--honeycomb", url, "--name", "plain", "--slots", "1", "--batch", "1"])
    wait_for_log(plain, "event=joined")

    async def lister():
        nc = await nats.connect(url)
        assigned = await nc.subscribe("hive.v1.drone.lister.task")
        hello = {"drone": "lister", "name": "lister", "tier": "worker", "slots": 32, "capabilities": ["backend:noop"],
                 "version": "test", "batch": 8}
        reply = json.loads((await nc.request("hive.v1.drone.lister.hello", json.dumps(hello).encode(), timeout=5)).data)
        assert reply["accepted"] and reply["batch"] == 16, reply
        # A drone that does not ask gets no lists back (an older drone's hello).
        old = {**hello, "drone": "old", "name": "old"}
        del old["batch"]
        reply_old = json.loads((await nc.request("hive.v1.drone.old.hello", json.dumps(old).encode(), timeout=5)).data)
        assert reply_old["accepted"] and "batch" not in reply_old, reply_old
        await nc.publish("hive.v1.drone.old.bye", b"")
        await nc.flush()

        code = hive("submit", noop_fork(tmp_path, 40, "a"), "--json", "--honeycomb", url)
        goal_a = json.loads(code.stdout)["goal"]
        code = hive("submit", noop_fork(tmp_path, 10, "b"), "--json", "--honeycomb", url)
        goal_b = json.loads(code.stdout)["goal"]
        entries, lists = [], 0
        while len(entries) < 32:
            m = await assigned.next_msg(timeout=10)
            body = json.loads(m.data)
            if isinstance(body, list):
                lists += 1
                assert 2 <= len(body) <= 8, "never more than the drone asked for"
                assert all(e["traceparent"].startswith("00-") for e in body), "each entry carries its trace parent"
                entries += body
            else:
                assert m.headers and m.headers.get("traceparent"), "a single assignment has it in the header"
                entries.append(body)
        assert lists > 0, "a drone that asked for lists got some"
        assert len({e["task"] for e in entries}) == 32

        def result(e, **over):
            return {"task": e["task"], "attempt": e["attempt"], "token": e["token"], "drone": "lister",
                    "outcome": "succeeded", "output": e["input"]["text"], **over}

        first, rest = entries[0], entries[1:]
        # One message of mixed goals and hostile entries: a forged token, another drone's name, garbage, the
        # first result then its duplicate (refused: the task has ended).
        hostile = [result(first), result(first, output="again"), result(rest[0], token="forged"),
                   result(rest[1], drone="plain"), 42, {"task": rest[2]["task"]}]
        await nc.publish("hive.v1.drone.lister.result", json.dumps(hostile).encode())
        # A million entries: only max_batch (16) are read; the others are refused unread.
        await nc.publish("hive.v1.drone.lister.result", b"[" + b",".join([b"1"] * 1_000_000) + b"]")
        # The rest, honestly, in lists of 8 (rest[0..2] again: their earlier entries were refused).
        for i in range(0, len(rest), 8):
            await nc.publish("hive.v1.drone.lister.result", json.dumps([result(e) for e in rest[i:i + 8]]).encode())
        await nc.flush()
        # The remaining 18 tasks (the plain drone runs some): answer whatever still comes here.
        done = {e["task"] for e in entries}

        def running(goal):
            r = hive("result", goal, "--json", "--honeycomb", url)
            assert r.returncode == 0, r.stderr
            return json.loads(r.stdout)["goal"]["state"] == "running"

        while running(goal_a) or running(goal_b):
            try:
                m = await assigned.next_msg(timeout=0.5)
            except nats.errors.TimeoutError:
                continue
            body = json.loads(m.data)
            more = body if isinstance(body, list) else [body]
            await nc.publish("hive.v1.drone.lister.result", json.dumps([result(e) for e in more if e["task"] not in done]).encode())
            done |= {e["task"] for e in more}
        await nc.close()
        return goal_a, goal_b, first

    goal_a, goal_b, first = asyncio.run(lister())
    for goal, prefix, n in ((goal_a, "a", 40), (goal_b, "b", 10)):
        w = hive("watch", goal, "--honeycomb", url, timeout=60)
        assert w.returncode == 0, w.stdout + w.stderr
        tasks = json.loads(hive("tasks", goal, "--json", "--honeycomb", url).stdout)
        leaves = sorted((t for t in tasks if t["kind"] == "noop"), key=lambda t: t["index"])
        assert [t["output"] for t in leaves] == [f"{prefix}-{i}" for i in range(n)], "the duplicate changed nothing"
    assert hc.poll() is None
    hc.send_signal(2)
    log = hc.communicate(timeout=15)[1]
    rejected = [l for l in log.splitlines() if "event=drone_message_rejected" in l]
    assert any("reason=\"stale lease token\"" in l or "token" in l for l in rejected), rejected
    assert any("drone=plain" in l and "another drone's subject" in l for l in rejected), rejected
    assert any("unreadable result" in l and "entries=2" in l for l in rejected), rejected
    assert any(f"task={first['task']}" in l for l in rejected), "the duplicate was refused"
    assert any("longer than max_batch" in l and "refused=999984" in l and "max_batch=16" in l for l in rejected), rejected
