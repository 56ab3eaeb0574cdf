"""Inputs and outputs of any size (Docs/ARCHITECTURE.md, "Inputs of any size"): `hive submit --input FILE` uploads
what does not fit inline as a blob (raw bytes in parts, hash-checked, stored durably under DATA/blobs/HASH), drones
fetch and verify it, and outputs too large for a result come back as blobs that `hive result --output-dir` writes.
Real honeycombd, drone and hive processes and random bytes; every wait polls."""
import asyncio, hashlib, json, os, signal

import nats

from conftest import DRONE, hive, wait_for_log
from test_control_plane import start_honeycombd, submit_wait

SHA256SUM = "/usr/bin/sha256sum"


def start_exec_drone(procs, url, name="d0"):
    """A drone that may run cat and sha256sum and keeps outputs up to 8 MiB (over 16 KiB they travel as blobs)."""
    d = procs.start([DRONE, "--honeycomb", url, "--name", name, "--slots", "2", "--tier", "worker",
                     "--allow-exec", f"/bin/cat,{SHA256SUM}", "--max-output-bytes", str(8 << 20)])
    wait_for_log(d, "event=joined")
    return d


def random_file(tmp_path, name, size):
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return path


def test_random_inputs_of_1_and_5_mib_go_through_cat_byte_for_byte_and_come_back_as_blobs(procs, tmp_path):
    hc = start_honeycombd(procs, tmp_path, data=tmp_path / "data")
    start_exec_drone(procs, hc.url)
    for size in (1 << 20, 5 << 20):
        data = random_file(tmp_path, f"in-{size}", size)
        digest = hashlib.sha256(data.read_bytes()).hexdigest()
        code, r = submit_wait(hc.url, "--input", str(data), "--exec", "/bin/cat")
        assert code == 0 and r["goal"]["state"] == "succeeded", r
        [task] = r["tasks"]
        assert "output" not in task, repr({k: str(v)[:100] for k, v in task.items()})
        assert task["output_blob"] == {"blob": f"sha256:{digest}", "size": size}, task
        # The blob is on disk under its hash; the journal holds only the reference.
        assert (tmp_path / "data" / "blobs" / digest).read_bytes() == data.read_bytes()
        out = tmp_path / f"out-{size}"
        res = hive("result", r["goal"]["goal"], "--output-dir", str(out), "--honeycomb", hc.url, timeout=60)
        assert res.returncode == 0, res.stderr
        assert f"output {size} bytes sha256:{digest}" in res.stdout, res.stdout
        assert (out / task["task"]).read_bytes() == data.read_bytes()
        assert f"wrote {out / task['task']}: {size} bytes, sha256:{digest}" in res.stderr
    journal = (tmp_path / "data" / "journal.log").read_bytes()
    assert len(journal) < 64 * 1024, "the journal holds references, not bytes"
    # The same input again is not uploaded again: sha256sum of it (a small text output, inline).
    code, r = submit_wait(hc.url, "--input", str(tmp_path / f"in-{1 << 20}"), "--exec", SHA256SUM)
    assert code == 0, r
    assert r["tasks"][0]["output"] == hashlib.sha256((tmp_path / f"in-{1 << 20}").read_bytes()).hexdigest() + "  -\n"


async def upload_parts(url, data):
    """blob_add as any client sends it: raw bytes in parts, the hash, offset and size in headers."""
    name = "sha256:" + hashlib.sha256(data).hexdigest()
    nc = await nats.connect(url)
    try:
        part = nc.max_payload - 4096
        reply = None
        for offset in range(0, len(data), part):
            reply = await nc.request("hive.v1.api.blob_add", data[offset:offset + part], timeout=10, headers={
                "Hive-Blob": name, "Hive-Blob-Offset": str(offset), "Hive-Blob-Size": str(len(data))})
        return json.loads(reply.data)
    finally:
        await nc.close()


async def blobs_held(url, names):
    nc = await nats.connect(url)
    try:
        reply = await nc.request("hive.v1.api.blob_has", json.dumps({"blobs": names}).encode(), timeout=10)
        return json.loads(reply.data)["blobs"]
    finally:
        await nc.close()


def test_an_uploaded_blob_survives_kill_9_before_the_goal_that_names_it_is_submitted(procs, tmp_path):
    data_dir = tmp_path / "data"
    hc = start_honeycombd(procs, tmp_path, data=data_dir)
    data = os.urandom(3 * (1 << 20) + 12345)
    digest = hashlib.sha256(data).hexdigest()
    stored = asyncio.run(upload_parts(hc.url, data))
    assert stored == {"blob": f"sha256:{digest}", "size": len(data)}, stored
    hc.send_signal(signal.SIGKILL)  # acknowledged, so durable: no orderly shutdown needed
    hc.wait()
    restarted = start_honeycombd(procs, tmp_path, data=data_dir, port=hc.port)
    assert asyncio.run(blobs_held(restarted.url, [f"sha256:{digest}", "sha256:" + "0" * 64])) == [f"sha256:{digest}"]
    start_exec_drone(procs, restarted.url)
    (tmp_path / "in.bin").write_bytes(data)
    code, r = submit_wait(restarted.url, "--input", str(tmp_path / "in.bin"), "--exec", SHA256SUM)
    assert code == 0, r
    assert r["tasks"][0]["output"] == f"{digest}  -\n"


def test_parts_that_hash_otherwise_and_goals_naming_unknown_blobs_are_refused_by_name(procs, tmp_path):
    hc = start_honeycombd(procs, tmp_path, extra={"max_blob_bytes": 1 << 20})

    async def forged():
        nc = await nats.connect(hc.url)
        try:
            claimed = "sha256:" + "ab" * 32
            reply = await nc.request("hive.v1.api.blob_add", b"not those bytes", timeout=10, headers={
                "Hive-Blob": claimed, "Hive-Blob-Offset": "0", "Hive-Blob-Size": "15"})
            big = await nc.request("hive.v1.api.blob_add", b"x", timeout=10, headers={
                "Hive-Blob": claimed, "Hive-Blob-Offset": "0", "Hive-Blob-Size": str(2 << 20)})
            return json.loads(reply.data)["error"], json.loads(big.data)["error"]
        finally:
            await nc.close()

    mismatch, too_large = asyncio.run(forged())
    actual = hashlib.sha256(b"not those bytes").hexdigest()
    assert f"SHA-256 is not {'ab' * 32} (they hash to {actual})" in mismatch, mismatch
    assert "honeycombd accepts blobs up to 1048576 bytes (--max-blob-bytes)" in too_large, too_large
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"name": "cat", "root": {"kind": "exec", "input": {
        "command": "/bin/cat", "stdin_blob": "sha256:" + "cd" * 32, "size": 10}}}))
    r = hive("submit", str(plan), "--honeycomb", hc.url)
    assert r.returncode == 65, r.stderr
    assert f"root.input.stdin_blob: honeycombd holds no blob 'sha256:{'cd' * 32}'" in r.stderr, r.stderr
    assert json.loads(hive("goals", "--json", "--honeycomb", hc.url).stdout) == []


def test_a_result_naming_an_output_blob_its_drone_did_not_upload_fails_the_attempt(procs, tmp_path):
    """A drone's output_blob is a claim: honeycombd keeps it only for a blob it holds, at the size it holds."""
    hc = start_honeycombd(procs, tmp_path)
    real = os.urandom(40_000)

    async def run():
        nc = await nats.connect(hc.url)
        try:
            tasks = await nc.subscribe("hive.v1.drone.liar.task")
            hello = {"drone": "liar", "name": "liar", "tier": "worker", "slots": 2, "capabilities": ["backend:noop"],
                     "version": "0.1.0"}
            reply = json.loads((await nc.request("hive.v1.drone.liar.hello", json.dumps(hello).encode(), timeout=5)).data)
            assert reply["accepted"], reply
            plan = tmp_path / "noop.json"
            plan.write_text(json.dumps({"root": {"kind": "fork", "join": "all", "children": [
                {"kind": "noop", "max_attempts": 1}, {"kind": "noop", "max_attempts": 1}]}}))
            r = hive("submit", str(plan), "--json", "--honeycomb", hc.url)
            assert r.returncode == 0, r.stderr
            goal = json.loads(r.stdout)["goal"]
            stored = await upload_parts(hc.url, real)
            # The honest claim first: the forged one then fails its task, and the join with it.
            for claim in ({"blob": stored["blob"], "size": 1}, {"blob": "sha256:" + "ee" * 32, "size": 5}):
                a = json.loads((await tasks.next_msg(timeout=10)).data)
                await nc.publish("hive.v1.drone.liar.result", json.dumps({
                    "task": a["task"], "attempt": a["attempt"], "token": a["token"], "drone": "liar",
                    "outcome": "succeeded", "output_blob": claim}).encode())
                await nc.flush()
            return goal
        finally:
            await nc.close()

    goal = asyncio.run(run())
    hive("watch", goal, "--honeycomb", hc.url, timeout=30)
    r = json.loads(hive("result", goal, "--json", "--honeycomb", hc.url).stdout)
    by_blob = {}
    for t in r["tasks"]:
        by_blob[(t.get("output_blob") or {}).get("blob")] = t
    forged = by_blob[None]
    assert forged["state"] == "dead" and "which the drone did not upload" in forged["error"], forged
    # A blob it did upload is kept, at the size honeycombd holds, not the size claimed.
    assert by_blob[f"sha256:{hashlib.sha256(real).hexdigest()}"]["output_blob"]["size"] == len(real)


async def status_beside_last_part(url, data):
    """Sends every part of `data` but the last as any client does, then the last part and a `status` request
    back to back on one connection, and returns the replies in the order they arrived: (which, payload)."""
    name = "sha256:" + hashlib.sha256(data).hexdigest()
    nc = await nats.connect(url)
    try:
        part = nc.max_payload - 4096
        headers = lambda offset: {"Hive-Blob": name, "Hive-Blob-Offset": str(offset), "Hive-Blob-Size": str(len(data))}
        last = (len(data) - 1) // part * part
        for offset in range(0, last, part):
            await nc.request("hive.v1.api.blob_add", data[offset:offset + part], timeout=30, headers=headers(offset))
        arrived = []
        done = asyncio.Event()

        async def on_reply(m):
            arrived.append((m.subject.rsplit(".", 1)[-1], json.loads(m.data)))
            if len(arrived) == 2:
                done.set()
        await nc.subscribe("_INBOX.beside.*", cb=on_reply)
        await nc.flush()
        await nc.publish("hive.v1.api.blob_add", data[last:], reply="_INBOX.beside.upload", headers=headers(last))
        await nc.publish("hive.v1.api.status", b"{}", reply="_INBOX.beside.status")
        await asyncio.wait_for(done.wait(), timeout=60)
        return arrived
    finally:
        await nc.close()


def test_a_status_request_is_answered_while_a_32_mib_upload_is_being_stored(procs, tmp_path):
    """The last part of an upload makes honeycombd hash 32 MiB and write them durably (fsync), which takes it tens
    to hundreds of milliseconds; a `status` sent right after that part, on the same connection, reaches honeycombd's
    API loop after it (one connection, one order) and must not wait for that write. The bound is the order, not a
    time: replies leave honeycombd on its one connection in the order they are answered, so a loop that answered
    requests one at a time (as it did) could only send the status reply after the upload's. Real honeycombd and
    nats-py, random bytes."""
    hc = start_honeycombd(procs, tmp_path, data=tmp_path / "data")
    data = os.urandom(32 << 20)
    arrived = asyncio.run(status_beside_last_part(hc.url, data))
    assert [which for which, _ in arrived] == ["status", "upload"], [(w, str(p)[:200]) for w, p in arrived]
    status, upload = arrived[0][1], arrived[1][1]
    assert "error" not in status, status
    digest = hashlib.sha256(data).hexdigest()
    assert upload == {"blob": f"sha256:{digest}", "size": len(data)}, upload
    assert (tmp_path / "data" / "blobs" / digest).read_bytes() == data
