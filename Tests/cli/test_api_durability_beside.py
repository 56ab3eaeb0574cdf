"""honeycombd's API answers do not queue behind another request's journal durability (ControlService.serve): a
request is applied in arrival order, its reply waits for the journal beside the request loop. On a JetStream stream
that lost its quorum a read is answered while submits still wait, the waiting submits share one durability wait,
and SIGTERM ends honeycombd within a bound; on the file journal many concurrent submitters all get their replies and
every acknowledged goal survives kill -9. Real nats-server cluster, real honeycombd, nats-py clients."""
import asyncio, json, signal, time

import nats as nats_py

import conftest
from conftest import wait_for_log
from test_jetstream_journal import js_cluster, start_on_stream

NOOP = json.dumps({"root": {"kind": "noop"}}).encode()


def quorum_cluster(procs, tmp_path):
    """A 3-node JetStream cluster, every node started; returns (url of node 0, nodes)."""
    urls, nodes = js_cluster(procs, tmp_path, "hive-w")
    return urls[0], nodes


async def requests_in_order(nc, requests):
    """Publishes each (subject, payload) in the given order, each with its own reply inbox; returns (futures of the
    replies but the last, [future of the last's]). nc.request would publish from separate tasks, in no set order."""
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in requests]
    prefix = nc.new_inbox()

    async def deliver(msg):
        i = int(msg.subject.rsplit(".", 1)[1])
        if not futures[i].done():
            futures[i].set_result(msg)

    await nc.subscribe(prefix + ".*", cb=deliver)
    for i, (subject, payload) in enumerate(requests):
        await nc.publish(subject, payload, reply=f"{prefix}.{i}")
    await nc.flush()
    return futures[:-1], futures[-1:]


def lose_quorum(nodes):
    for n in nodes[1:]:
        n.send_signal(signal.SIGKILL)
        n.wait()


def test_a_read_is_answered_while_submits_wait_on_a_stream_without_quorum(procs, tmp_path):
    url, nodes = quorum_cluster(procs, tmp_path)
    ack_ms, n = 3000, 5
    hc = start_on_stream(procs, tmp_path, url, "HIVEW?replicas=3", "--journal-create", "--journal-ack-timeout-ms", str(ack_ms))
    lose_quorum(nodes)

    async def run():
        nc = await nats_py.connect(url)
        try:
            # The n submits are published before the status request, on one connection: honeycombd receives them
            # in that order (one subscriber).
            submits, status = await requests_in_order(nc, [("hive.v1.api.submit", NOOP)] * n + [("hive.v1.api.status", b"")])
            start = time.monotonic()
            status = await asyncio.wait_for(status.pop(), 120)
            waiting_at_status = sum(not s.done() for s in submits)
            replies = await asyncio.wait_for(asyncio.gather(*submits), 120)
            return status, waiting_at_status, replies, time.monotonic() - start
        finally:
            await nc.close()

    status, waiting_at_status, replies, took = asyncio.run(run())
    assert "error" not in json.loads(status.data), status.data
    # No submit can be answered before the journal's deadline: a status answered while all n still wait did not
    # queue behind them (it waited n × 3 s before).
    assert waiting_at_status == n, waiting_at_status
    for r in replies:
        body = json.loads(r.data)
        assert "not acknowledged by the journal" in body.get("error", ""), body
    # The n submits waited side by side, not one after another (n × 3 s).
    assert took < (n - 1) * ack_ms / 1000, took
    wait_for_log(hc, "event=journal_unavailable")


def test_sigterm_while_submits_wait_on_a_stream_without_quorum_exits_within_a_bound(procs, tmp_path):
    url, nodes = quorum_cluster(procs, tmp_path)
    hc = start_on_stream(procs, tmp_path, url, "HIVEX?replicas=3", "--journal-create", "--journal-ack-timeout-ms", "5000")
    lose_quorum(nodes)

    async def run():
        nc = await nats_py.connect(url)
        try:
            submits = [asyncio.ensure_future(nc.request("hive.v1.api.submit", NOOP, timeout=60)) for _ in range(20)]
            await nc.flush()
            # honeycombd has applied them (each logs goal_accepted) and waits on the journal for their replies.
            await asyncio.to_thread(wait_for_log, hc, "goal=g20", 30)
            start = time.monotonic()
            hc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(hc.wait, 30)
            took = time.monotonic() - start
            replies = await asyncio.gather(*submits, return_exceptions=True)
            return code, took, replies
        finally:
            await nc.close()

    code, took, replies = asyncio.run(run())
    assert code == 0, code
    print(f"sigterm_exit_s={took:.2f}")
    assert took < 10, took
    # Each waiting submitter heard, before honeycombd left, that its goal was not acknowledged: none was told
    # "accepted", none is left to its own timeout.
    for r in replies:
        assert not isinstance(r, Exception), r
        assert "not acknowledged by the journal" in json.loads(r.data).get("error", ""), r.data


def test_many_concurrent_submitters_on_the_file_journal_all_get_replies_that_survive_kill_9(procs, tmp_path):
    data = tmp_path / "data"
    hc = conftest.start_honeycombd(procs, "--data", str(data))
    n = 200

    async def run():
        nc = await nats_py.connect(hc.url)
        try:
            replies = await asyncio.gather(*[nc.request("hive.v1.api.submit", NOOP, timeout=60) for _ in range(n)])
            return [json.loads(r.data) for r in replies]
        finally:
            await nc.close()

    bodies = asyncio.run(run())
    goals = [b.get("goal") for b in bodies]
    assert all(goals) and len(set(goals)) == n, bodies[:3]
    hc.send_signal(signal.SIGKILL)
    hc.wait()
    again = conftest.start_honeycombd(procs, "--data", str(data))
    assert f"goals={n}" in again.startup_log, again.startup_log

    async def known():
        nc = await nats_py.connect(again.url)
        try:
            return [json.loads((await nc.request("hive.v1.api.goal", json.dumps({"goal": g}).encode(), timeout=30)).data) for g in goals]
        finally:
            await nc.close()

    for g, view in zip(goals, asyncio.run(known())):
        assert view.get("goal") == g, view
