"""A careful hostile client against blob uploads (`blob_add` in parts) and reads (`blob_get`), over real sockets to a
real honeycombd: parts out of order, repeated, overlapping, past the declared size, empty, or ten thousand tiny ones;
a read of a blob still being uploaded. Each bad part gets a clear refusal with its kind, loses nothing already
accepted, and honeycombd goes on serving. Every wait is a reply or a poll with a deadline."""
import asyncio, hashlib, json, os

import nats

from conftest import hive
from test_blobs import start_exec_drone
from test_control_plane import start_honeycombd, submit_wait


def name_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def part(nc, name, offset, size, data, timeout=10):
    """One blob_add part as any client may send it: headers name the blob, the part's offset and the whole size."""
    reply = await nc.request("hive.v1.api.blob_add", data, timeout=timeout, headers={
        "Hive-Blob": name, "Hive-Blob-Offset": str(offset), "Hive-Blob-Size": str(size)})
    return json.loads(reply.data)


async def read_back(nc, name):
    """The blob's bytes through blob_get, part by part, or the error of the first reply."""
    out = b""
    while True:
        reply = await nc.request("hive.v1.api.blob_get", json.dumps({"blob": name, "offset": len(out) or None}).encode(), timeout=10)
        size = (reply.headers or {}).get("Hive-Blob-Size")
        if size is None:
            return json.loads(reply.data)
        out += reply.data
        if len(out) >= int(size) or not reply.data:
            return out


def test_bad_parts_are_refused_by_kind_and_the_upload_they_interrupt_goes_on(procs, tmp_path):
    hc = start_honeycombd(procs, tmp_path, data=tmp_path / "data")
    data = os.urandom(300)
    name = name_of(data)

    async def run():
        nc = await nats.connect(hc.url)
        try:
            assert await part(nc, name, 0, 300, data[:100]) == {"blob": name, "size": 300, "received": 100}
            # The first part again: a fresh start of the same upload (a client that lost the reply may resend it).
            assert await part(nc, name, 0, 300, data[:100]) == {"blob": name, "size": 300, "received": 100}
            overlapping = await part(nc, name, 50, 300, data[50:150])
            assert overlapping == {"error": "blob part at offset 50: expected offset 100", "kind": "bad_request"}, overlapping
            gap = await part(nc, name, 200, 300, data[200:])
            assert gap == {"error": "blob part at offset 200: expected offset 100", "kind": "bad_request"}, gap
            other_size = await part(nc, name, 100, 301, data[100:200])
            assert other_size["kind"] == "bad_request" and "size 301 differs from the upload's 300" in other_size["error"]
            past = await part(nc, name, 100, 300, data[100:] + b"extra")
            assert past == {"error": "blob part: 305 bytes is past the declared size 300", "kind": "bad_request"}, past
            # A read of the blob while it is being uploaded: not there yet, said so by kind.
            reading = await read_back(nc, name)
            assert reading["kind"] == "not_found" and f"unknown blob '{name}'" in reading["error"], reading
            # None of the refusals cost the 100 bytes already accepted.
            assert await part(nc, name, 100, 300, data[100:200]) == {"blob": name, "size": 300, "received": 200}
            assert await part(nc, name, 200, 300, data[200:]) == {"blob": name, "size": 300}
            assert await read_back(nc, name) == data
        finally:
            await nc.close()

    asyncio.run(run())
    assert (tmp_path / "data" / "blobs" / name.removeprefix("sha256:")).read_bytes() == data


def test_empty_negative_and_unparsable_sizes_and_offsets_are_refused_naming_the_field(procs, tmp_path):
    hc = start_honeycombd(procs, tmp_path)
    name = name_of(b"x")

    async def run():
        nc = await nats.connect(hc.url)
        try:
            empty = await part(nc, name_of(b""), 0, 0, b"")
            assert empty["kind"] == "bad_request" and "a blob has at least one byte" in empty["error"], empty
            negative = await part(nc, name, 0, -5, b"x")
            assert negative["kind"] == "bad_request" and "size -5" in negative["error"], negative
            before_start = await part(nc, name, -1, 1, b"x")
            assert before_start["kind"] == "bad_request" and "offset -1" in before_start["error"], before_start
            for header, value in (("Hive-Blob-Size", "99999999999999999999999"), ("Hive-Blob-Offset", "1e3"),
                                  ("Hive-Blob-Size", "")):
                headers = {"Hive-Blob": name, "Hive-Blob-Offset": "0", "Hive-Blob-Size": "1", header: value}
                r = json.loads((await nc.request("hive.v1.api.blob_add", b"x", timeout=10, headers=headers)).data)
                assert r["kind"] == "bad_request" and "integer Hive-Blob-Offset and Hive-Blob-Size" in r["error"], r
            # An empty part in the middle adds nothing and is answered with the progress so far.
            data = os.urandom(10)
            n = name_of(data)
            assert await part(nc, n, 0, 10, data[:4]) == {"blob": n, "size": 10, "received": 4}
            assert await part(nc, n, 4, 10, b"") == {"blob": n, "size": 10, "received": 4}
            assert await part(nc, n, 4, 10, data[4:]) == {"blob": n, "size": 10}
            # Still serving: the blob reads back.
            assert await read_back(nc, n) == data
        finally:
            await nc.close()

    asyncio.run(run())


def test_ten_thousand_one_byte_parts_make_one_blob_and_honeycombd_keeps_answering(procs, tmp_path):
    hc = start_honeycombd(procs, tmp_path)
    data = os.urandom(10_000)
    name = name_of(data)

    async def run():
        nc = await nats.connect(hc.url)
        try:
            for offset in range(len(data)):
                r = await part(nc, name, offset, len(data), data[offset:offset + 1], timeout=30)
                assert r.get("received", len(data)) == offset + 1, r
            assert r == {"blob": name, "size": len(data)}
            assert await read_back(nc, name) == data
            status = json.loads((await nc.request("hive.v1.api.status", b"{}", timeout=10)).data)
            assert status["service"] == "honeycombd"
        finally:
            await nc.close()

    asyncio.run(run())


def test_two_clients_uploading_one_blob_at_once_both_end_with_it_stored_whole(procs, tmp_path):
    """Two uploads of the same bytes finish together: both are written (each to a temp of its own) and both told
    the blob is stored; the file on disk is the blob, whole."""
    hc = start_honeycombd(procs, tmp_path, data=tmp_path / "data")
    data = os.urandom(3 << 20)
    name = name_of(data)

    async def upload(nc):
        step = nc.max_payload - 4096
        r = None
        for offset in range(0, len(data), step):
            r = await part(nc, name, offset, len(data), data[offset:offset + step], timeout=30)
        return r

    async def run():
        a, b = await nats.connect(hc.url), await nats.connect(hc.url)
        try:
            results = await asyncio.gather(*(upload(nc) for nc in (a, b)))
            assert all(r in ({"blob": name, "size": len(data)}, {"blob": name, "size": len(data), "received": len(data)})
                       or r == {"blob": name, "size": len(data)} for r in results), results
            assert await read_back(a, name) == data
        finally:
            await a.close()
            await b.close()

    asyncio.run(run())
    blobs = tmp_path / "data" / "blobs"
    assert sorted(p.name for p in blobs.iterdir()) == [name.removeprefix("sha256:")]
    assert (blobs / name.removeprefix("sha256:")).read_bytes() == data


def test_hive_result_fetches_output_blobs_only_up_to_max_blob_bytes(procs, tmp_path):
    """`hive result --output-dir` reads what honeycombd sends through the same bounded part loop as drones: an output
    over `--max-blob-bytes` is refused naming the flag, and nothing is written; within it, the bytes arrive whole."""
    hc = start_honeycombd(procs, tmp_path)
    start_exec_drone(procs, hc.url)
    data = os.urandom(200_000)
    (tmp_path / "in.bin").write_bytes(data)
    code, r = submit_wait(hc.url, "--input", str(tmp_path / "in.bin"), "--exec", "/bin/cat")
    assert code == 0 and r["goal"]["state"] == "succeeded", r
    goal, task = r["goal"]["goal"], r["tasks"][0]["task"]
    small = hive("result", goal, "--output-dir", str(tmp_path / "small"), "--max-blob-bytes", "100000", "--honeycomb", hc.url, timeout=60)
    assert small.returncode == 69, small.stderr
    assert "is 200000 bytes; at most 100000 bytes are fetched (--max-blob-bytes)" in small.stderr, small.stderr
    assert not (tmp_path / "small" / task).exists()
    bad = hive("result", goal, "--output-dir", str(tmp_path / "x"), "--max-blob-bytes", "0", "--honeycomb", hc.url)
    assert bad.returncode == 64 and "--max-blob-bytes" in bad.stderr, bad.stderr
    ok = hive("result", goal, "--output-dir", str(tmp_path / "ok"), "--honeycomb", hc.url, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "ok" / task).read_bytes() == data


def test_blob_get_and_blob_has_with_hostile_offsets_names_and_counts_answer_clearly(procs, tmp_path):
    hc = start_honeycombd(procs, tmp_path, data=tmp_path / "data")
    data = os.urandom(1000)
    name = name_of(data)

    async def get(nc, body):
        reply = await nc.request("hive.v1.api.blob_get", body if isinstance(body, bytes) else json.dumps(body).encode(), timeout=10)
        return (reply.headers or {}).get("Hive-Blob-Size"), reply.data

    async def run():
        nc = await nats.connect(hc.url)
        try:
            assert await part(nc, name, 0, len(data), data) == {"blob": name, "size": len(data)}
            assert await get(nc, {"blob": name, "offset": -5}) == ("1000", data)  # clamped to the start
            assert await get(nc, {"blob": name, "offset": 2 ** 62}) == ("1000", b"")  # past the end: nothing, and the size
            for body in ({"blob": name, "offset": 2 ** 64}, {"blob": name, "offset": 1.5}, b"\xff\xfe", b"[" * 100_000):
                size, payload = await get(nc, body)
                r = json.loads(payload)
                assert size is None and r["kind"] == "bad_request" and r["error"].startswith("blob_get: send"), (body[:20], r)
            for bad in ("../../etc/passwd", "sha256:" + "A" * 64, "sha256:" + "0" * 64, "\u0000" * 10):
                size, payload = await get(nc, {"blob": bad})
                r = json.loads(payload)
                assert size is None and r["kind"] == "not_found", r
            held = json.loads((await nc.request("hive.v1.api.blob_has", json.dumps({"blobs": [name, "x" * 100]}).encode(), timeout=10)).data)
            assert held == {"blobs": [name]}
            many = json.loads((await nc.request("hive.v1.api.blob_has", json.dumps({"blobs": ["x"] * 10_000}).encode(), timeout=10)).data)
            assert many == {"error": "blob_has: 10000 names; ask about at most 1024 at once", "kind": "bad_request"}, many
        finally:
            await nc.close()

    asyncio.run(run())


def leb128(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_a_big_module_is_hashed_validated_and_written_while_honeycombd_answers_others(procs, tmp_path):
    """The last part of a 24 MiB module sets off its hashing, validation and durable write: off the control-plane
    actor, so a drone's heartbeat sent right after it is answered first (on the actor, a big module held heartbeats
    and results until it was stored, long enough for drones to be marked lost). API requests are answered one at a
    time, in order, so the heartbeat is the witness, not another API call."""
    hc = start_honeycombd(procs, tmp_path, data=tmp_path / "data")
    payload = b"\x01x" + os.urandom(24 << 20)  # a custom section: name "x", then bytes any validator skips
    module = b"\x00asm\x01\x00\x00\x00" + b"\x00" + leb128(len(payload)) + payload
    digest = hashlib.sha256(module).hexdigest()

    async def run():
        nc = await nats.connect(hc.url)
        try:
            step = nc.max_payload - 4096
            offsets = list(range(0, len(module), step))

            async def send(offset):
                reply = await nc.request("hive.v1.api.module_add", module[offset:offset + step], timeout=60, headers={
                    "Hive-Module": digest, "Hive-Module-Offset": str(offset), "Hive-Module-Size": str(len(module))})
                return json.loads(reply.data)

            for offset in offsets[:-1]:
                assert (await send(offset))["received"] == offset + step
            order = []

            async def last():
                r = await send(offsets[-1])
                order.append("module")
                return r

            async def heartbeat():
                hb = {"drone": "d9", "running": []}
                r = json.loads((await nc.request("hive.v1.drone.d9.hb", json.dumps(hb).encode(), timeout=60)).data)
                order.append("heartbeat")
                return r

            stored_task = asyncio.ensure_future(last())
            await nc.flush()  # the last part is on its way first
            answered = await heartbeat()
            stored = await stored_task
            assert stored == {"module": digest, "size": len(module)}, stored
            assert answered == {"known": False}
            assert order == ["heartbeat", "module"], order
        finally:
            await nc.close()

    asyncio.run(run())
    assert (tmp_path / "data" / "modules" / f"{digest}.wasm").read_bytes() == module
