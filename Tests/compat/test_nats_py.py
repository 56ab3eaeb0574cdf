"""Compatibility suite: the real PyPI client ``nats-py`` against honeycombd.

Every test runs twice, once against honeycombd and once against the reference
nats-server (see conftest.py), so a test failing for only one of the two
parameters marks a behavioural divergence.

No pytest-asyncio: each test drives an inner coroutine with ``asyncio.run``.
Synchronisation uses flushes (PING/PONG round trips), futures and events set
from message callbacks, and "sentinel" messages: the server delivers messages
from one publisher to one connection in order, so once a sentinel published
last has arrived, everything published before it that was going to be
delivered has been delivered too.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable, Optional

import nats
import nats.errors
import pytest

from conftest import RunningServer, sync

WAIT_S = 5.0  # upper bound for anything that should happen "at once"


# --------------------------------------------------------------------------- helpers


async def _quiet_error_cb(_e: Exception) -> None:
    # nats-py's default error callback prints tracebacks; tests inspect
    # errors explicitly where they matter.
    pass


async def connect(srv: RunningServer, **kw) -> nats.NATS:
    opts = dict(
        servers=[srv.url],
        allow_reconnect=False,
        max_reconnect_attempts=0,
        connect_timeout=2,
        error_cb=_quiet_error_cb,
    )
    if srv.token is not None:
        opts["token"] = srv.token
    if srv.user is not None:
        opts["user"] = srv.user
        opts["password"] = srv.password
    opts.update(kw)
    return await nats.connect(**opts)


class Collector:
    """Message callback that records messages and lets a test wait on them."""

    def __init__(self) -> None:
        self.msgs: list = []
        self._changed = asyncio.Event()

    async def cb(self, msg) -> None:
        self.msgs.append(msg)
        self._changed.set()

    @property
    def subjects(self) -> list[str]:
        return [m.subject for m in self.msgs]

    @property
    def payloads(self) -> list[bytes]:
        return [m.data for m in self.msgs]

    async def wait_until(self, pred: Callable[[list], bool], what: str, timeout: float = WAIT_S) -> None:
        async def _wait() -> None:
            while not pred(self.msgs):
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(_wait(), timeout)
        except asyncio.TimeoutError:
            pytest.fail(f"timed out after {timeout}s waiting for {what}; got {len(self.msgs)} msgs: "
                        f"{[(m.subject, m.data[:40]) for m in self.msgs][:20]}")

    async def wait_count(self, n: int, timeout: float = WAIT_S) -> None:
        await self.wait_until(lambda msgs: len(msgs) >= n, f"{n} messages", timeout)

    async def wait_subject(self, subject: str, timeout: float = WAIT_S) -> None:
        await self.wait_until(lambda msgs: any(m.subject == subject for m in msgs),
                              f"a message on {subject!r}", timeout)


async def close_all(*conns: Optional[nats.NATS]) -> None:
    for nc in conns:
        if nc is not None and not nc.is_closed:
            await nc.close()


# --------------------------------------------------------------------------- 1. connect / INFO


def test_connect_and_server_info(server):
    async def main():
        nc = await connect(server)
        try:
            assert nc.is_connected
            version = nc.connected_server_version
            assert version.major >= 2, f"server advertised version {version}"
            assert nc.max_payload == 1048576
            assert isinstance(nc.client_id, int)
            info = nc._server_info  # no public accessor for the raw INFO
            assert info.get("server_id"), info
            assert info.get("headers") is True, "server must advertise header support"
            assert info.get("proto", 0) >= 1, "server must advertise proto >= 1"
            assert not info.get("auth_required"), "default server should not require auth"
            # A full round trip proves the CONNECT was accepted.
            await sync(nc, timeout=WAIT_S)
            rtt = await nc.rtt()
            assert rtt < WAIT_S
        finally:
            await nc.close()
        assert nc.is_closed

    asyncio.run(main())


# --------------------------------------------------------------------------- 2. pub/sub


def test_pub_sub_basic(server):
    async def main():
        sub_nc = await connect(server)
        pub_nc = await connect(server)
        try:
            col = Collector()
            await sub_nc.subscribe("greet.basic", cb=col.cb)
            await sync(sub_nc)

            binary = bytes(range(256)) + b"\r\nPUB evil 3\r\nxyz\r\n" + b"\r\n" * 3
            big = bytes((i * 7) & 0xFF for i in range(512 * 1024))
            payloads = [b"hello world", b"", binary, b"\r\n", big, b"last"]
            for p in payloads:
                await pub_nc.publish("greet.basic", p)
            await pub_nc.publish("greet.basic", b"with-reply", reply="greet.reply.to")
            await sync(pub_nc)

            await col.wait_count(len(payloads) + 1)
            assert [m.subject for m in col.msgs] == ["greet.basic"] * (len(payloads) + 1)
            # Order from a single publisher is preserved and bytes survive intact.
            assert col.payloads[:-1] == payloads
            assert col.msgs[-1].data == b"with-reply"
            assert col.msgs[-1].reply == "greet.reply.to"
            assert all(m.reply == "" for m in col.msgs[:-1])
            assert all(m.headers is None for m in col.msgs)

            # Nothing extra arrives.
            await sync(pub_nc)
            await sync(sub_nc)
            assert len(col.msgs) == len(payloads) + 1
        finally:
            await close_all(sub_nc, pub_nc)

    asyncio.run(main())


def test_subscription_iterator_next_msg(server):
    async def main():
        nc = await connect(server)
        try:
            sub = await nc.subscribe("iter.subject")
            await nc.publish("iter.subject", b"one")
            await nc.publish("iter.subject", b"two")
            await sync(nc)
            m1 = await sub.next_msg(timeout=WAIT_S)
            m2 = await sub.next_msg(timeout=WAIT_S)
            assert (m1.subject, m1.data, m2.data) == ("iter.subject", b"one", b"two")
            await sub.unsubscribe()
            await nc.publish("iter.subject", b"three")
            await sync(nc)
            # After UNSUB the server must not deliver anything for that sid.
            assert nc.stats["in_msgs"] == 2
        finally:
            await nc.close()

    asyncio.run(main())


# --------------------------------------------------------------------------- 3. wildcards


def test_wildcards(server):
    async def main():
        sub_nc = await connect(server)
        pub_nc = await connect(server)
        try:
            star, gt, full, exact, upper = Collector(), Collector(), Collector(), Collector(), Collector()
            await sub_nc.subscribe("foo.*", cb=star.cb)
            await sub_nc.subscribe("foo.>", cb=gt.cb)
            await sub_nc.subscribe(">", cb=full.cb)
            await sub_nc.subscribe("foo", cb=exact.cb)
            await sub_nc.subscribe("Foo.*", cb=upper.cb)
            mid = Collector()
            await sub_nc.subscribe("*.mid.*", cb=mid.cb)
            await sync(sub_nc)

            subjects = ["foo", "foo.bar", "foo.bar.baz", "Foo.bar", "FOO.bar", "foobar.x",
                        "bar.foo", "a.mid.c", "a.mid.c.d", "mid.c"]
            for s in subjects:
                await pub_nc.publish(s, s.encode())
            sentinel = "foo.zzsentinel"  # matches foo.*, foo.> and >
            await pub_nc.publish(sentinel, b"end")
            await pub_nc.publish("Foo.zzsentinel", b"end")  # for Foo.* (and >)
            await pub_nc.publish("x.mid.zzsentinel", b"end")  # for *.mid.* (and >)
            await sync(pub_nc)

            await star.wait_subject(sentinel)
            await gt.wait_subject(sentinel)
            await full.wait_subject("x.mid.zzsentinel")
            await upper.wait_subject("Foo.zzsentinel")
            await mid.wait_subject("x.mid.zzsentinel")
            await sync(sub_nc)

            assert star.subjects == ["foo.bar", sentinel]
            assert gt.subjects == ["foo.bar", "foo.bar.baz", sentinel]
            assert full.subjects == subjects + [sentinel, "Foo.zzsentinel", "x.mid.zzsentinel"]
            assert exact.subjects == ["foo"]
            assert upper.subjects == ["Foo.bar", "Foo.zzsentinel"]  # case-sensitive
            assert mid.subjects == ["a.mid.c", "x.mid.zzsentinel"]
            # Payloads match the subject they were published on.
            for col in (star, gt, full, exact, upper, mid):
                for m in col.msgs:
                    assert m.data in (m.subject.encode(), b"end")
        finally:
            await close_all(sub_nc, pub_nc)

    asyncio.run(main())


def test_overlapping_subscriptions_on_one_connection(server):
    """Each matching subscription gets its own copy, even on one connection."""

    async def main():
        nc = await connect(server)
        pub_nc = await connect(server)
        try:
            a, b, c = Collector(), Collector(), Collector()
            await nc.subscribe("dup.x", cb=a.cb)
            await nc.subscribe("dup.x", cb=b.cb)
            await nc.subscribe("dup.*", cb=c.cb)
            await sync(nc)
            await pub_nc.publish("dup.x", b"1")
            await sync(pub_nc)
            for col in (a, b, c):
                await col.wait_count(1)
            await sync(pub_nc)
            await sync(nc)
            assert (len(a.msgs), len(b.msgs), len(c.msgs)) == (1, 1, 1)
            assert nc.stats["in_msgs"] == 3
        finally:
            await close_all(nc, pub_nc)

    asyncio.run(main())


# --------------------------------------------------------------------------- 4. queue groups


def test_queue_groups(server):
    N = 300

    async def main():
        members = [await connect(server) for _ in range(3)]
        plain_nc = await connect(server)
        pub_nc = await connect(server)
        try:
            cols = [Collector() for _ in members]
            group_all = Collector()  # every delivery to any group member

            def member_cb(col):
                async def cb(msg):
                    await col.cb(msg)
                    await group_all.cb(msg)
                return cb

            for nc, col in zip(members, cols):
                await nc.subscribe("jobs.work", queue="workers", cb=member_cb(col))
                await sync(nc)
            plain = Collector()
            await plain_nc.subscribe("jobs.work", cb=plain.cb)
            # A second, independent group must also get every message once.
            other = Collector()
            await plain_nc.subscribe("jobs.work", queue="auditors", cb=other.cb)
            await sync(plain_nc)

            for i in range(N):
                await pub_nc.publish("jobs.work", str(i).encode())
            await sync(pub_nc)

            await plain.wait_count(N)
            await other.wait_count(N)
            await group_all.wait_count(N)
            await sync(pub_nc)
            for nc in members + [plain_nc]:
                await sync(nc)

            counts = [len(c.msgs) for c in cols]
            assert sum(counts) == N, counts
            all_payloads = sorted(int(m.data) for c in cols for m in c.msgs)
            assert all_payloads == list(range(N)), "each message must reach exactly one group member"
            assert min(counts) >= 50, f"queue distribution too uneven: {counts}"
            assert [int(m.data) for m in plain.msgs] == list(range(N))
            assert sorted(int(m.data) for m in other.msgs) == list(range(N))
        finally:
            await close_all(*members, plain_nc, pub_nc)

    asyncio.run(main())


# --------------------------------------------------------------------------- 5. request/reply


def test_request_reply(server):
    async def main():
        svc_nc = await connect(server)
        req_nc = await connect(server)
        try:
            async def responder(msg):
                await msg.respond(b"echo:" + msg.data)

            await svc_nc.subscribe("svc.echo", cb=responder)
            await sync(svc_nc)

            resp = await req_nc.request("svc.echo", b"ping", timeout=WAIT_S)
            assert resp.data == b"echo:ping"

            payloads = [f"req-{i}".encode() for i in range(100)]
            results = await asyncio.gather(
                *(req_nc.request("svc.echo", p, timeout=WAIT_S) for p in payloads)
            )
            assert [r.data for r in results] == [b"echo:" + p for p in payloads]

            # Old-style request: a fresh inbox with UNSUB max 1.
            old = await req_nc.request("svc.echo", b"old", timeout=WAIT_S, old_style=True)
            assert old.data == b"echo:old"

            # Request carrying headers; msg.respond echoes the headers back.
            hr = await req_nc.request("svc.echo", b"h", timeout=WAIT_S, headers={"X-Trace": "abc123"})
            assert hr.data == b"echo:h"
            assert hr.headers == {"X-Trace": "abc123"}
        finally:
            await close_all(svc_nc, req_nc)

    asyncio.run(main())


def test_request_queue_group_responders(server):
    """Requests to a queue group are answered exactly once each."""

    async def main():
        svc = [await connect(server) for _ in range(2)]
        req_nc = await connect(server)
        try:
            handled = [0, 0]

            def make(i):
                async def responder(msg):
                    handled[i] += 1
                    await msg.respond(f"{i}:".encode() + msg.data)
                return responder

            for i, nc in enumerate(svc):
                await nc.subscribe("svc.q", queue="svc", cb=make(i))
                await sync(nc)
            results = await asyncio.gather(
                *(req_nc.request("svc.q", str(n).encode(), timeout=WAIT_S) for n in range(60))
            )
            for n, r in enumerate(results):
                assert r.data.split(b":", 1)[1] == str(n).encode()
            for nc in svc:
                await sync(nc)
            assert sum(handled) == 60, handled
        finally:
            await close_all(*svc, req_nc)

    asyncio.run(main())


# --------------------------------------------------------------------------- 6. headers


def test_headers(server):
    async def main():
        sub_nc = await connect(server)
        pub_nc = await connect(server)
        try:
            col = Collector()
            await sub_nc.subscribe("hdr.*", cb=col.cb)
            await sync(sub_nc)

            h1 = {"Foo": "Bar", "X-Request-Id": "42", "Content-Type": "application/json"}
            # nats-py's publish API takes a dict of str -> str, so a key cannot
            # be repeated; a comma-joined value and a value containing a colon
            # and spaces are the closest multi-entry forms it can send.
            h2 = {"Accept": "a, b, c", "X-Colon": "k: v  inner spaces", "X-Unicode": "héllo ✓"}
            await pub_nc.publish("hdr.one", b"payload-1", headers=h1)
            await pub_nc.publish("hdr.two", b"", headers=h2)
            await pub_nc.publish("hdr.three", b"no-headers")
            await pub_nc.publish("hdr.four", b"x" * 100, headers={"Only": "one"}, reply="hdr.reply")
            await sync(pub_nc)

            await col.wait_count(4)
            m1, m2, m3, m4 = col.msgs
            assert (m1.subject, m1.data, m1.headers) == ("hdr.one", b"payload-1", h1)
            assert (m2.subject, m2.data, m2.headers) == ("hdr.two", b"", h2)
            assert (m3.subject, m3.data, m3.headers) == ("hdr.three", b"no-headers", None)
            assert (m4.data, m4.headers, m4.reply) == (b"x" * 100, {"Only": "one"}, "hdr.reply")
            # Payload byte accounting excludes headers.
            assert sub_nc.stats["in_bytes"] == len(b"payload-1") + 0 + len(b"no-headers") + 100
        finally:
            await close_all(sub_nc, pub_nc)

    asyncio.run(main())


# --------------------------------------------------------------------------- 7. no responders


def test_no_responders(server):
    async def main():
        nc = await connect(server)
        try:
            t0 = time.monotonic()
            with pytest.raises(nats.errors.NoRespondersError):
                await nc.request("nobody.home", b"hello?", timeout=5.0)
            elapsed = time.monotonic() - t0
            assert elapsed < 1.0, f"no-responders took {elapsed:.2f}s, should be immediate"

            # Once a responder exists the same request succeeds.
            async def responder(msg):
                await msg.respond(b"here")

            await nc.subscribe("nobody.home", cb=responder)
            await sync(nc)
            resp = await nc.request("nobody.home", b"hello?", timeout=WAIT_S)
            assert resp.data == b"here"
        finally:
            await nc.close()

    asyncio.run(main())


def test_request_timeout_when_responder_silent(server):
    """A subscriber that never answers yields a timeout, not no-responders."""

    async def main():
        nc = await connect(server)
        try:
            col = Collector()
            await nc.subscribe("silent.svc", cb=col.cb)
            await sync(nc)
            t0 = time.monotonic()
            with pytest.raises(nats.errors.TimeoutError):
                await nc.request("silent.svc", b"?", timeout=0.3)
            assert time.monotonic() - t0 >= 0.25
            assert len(col.msgs) == 1
        finally:
            await nc.close()

    asyncio.run(main())


# --------------------------------------------------------------------------- 8. unsubscribe with max


def test_unsubscribe_with_limit(server):
    async def main():
        sub_nc = await connect(server)
        pub_nc = await connect(server)
        try:
            col = Collector()
            sub = await sub_nc.subscribe("x", cb=col.cb)
            await sub.unsubscribe(limit=2)
            sentinel = Collector()
            await sub_nc.subscribe("x.sentinel", cb=sentinel.cb)
            await sync(sub_nc)

            for i in range(10):
                await pub_nc.publish("x", str(i).encode())
            await pub_nc.publish("x.sentinel", b"end")
            await sync(pub_nc)
            await sentinel.wait_count(1)
            await sync(sub_nc)

            assert col.payloads == [b"0", b"1"]
            # The client also drops extras itself; in_msgs counts every MSG the
            # server actually sent, so this checks the server honoured UNSUB max.
            assert sub_nc.stats["in_msgs"] == 3, (
                f"server delivered {sub_nc.stats['in_msgs'] - 1} msgs on 'x' after UNSUB 2"
            )

            # The auto-unsubscribed sid is gone server-side: more publishes go nowhere.
            await pub_nc.publish("x", b"late")
            await pub_nc.publish("x.sentinel", b"end2")
            await sync(pub_nc)
            await sentinel.wait_count(2)
            assert sub_nc.stats["in_msgs"] == 4
        finally:
            await close_all(sub_nc, pub_nc)

    asyncio.run(main())


def test_subscribe_max_msgs(server):
    async def main():
        sub_nc = await connect(server)
        pub_nc = await connect(server)
        try:
            col = Collector()
            await sub_nc.subscribe("y.max", cb=col.cb, max_msgs=3)
            await sync(sub_nc)
            for i in range(10):
                await pub_nc.publish("y.max", str(i).encode())
            await sync(pub_nc)
            await col.wait_count(3)
            await sync(sub_nc)
            assert col.payloads == [b"0", b"1", b"2"]

            # Unsubscribe with a limit already reached removes interest at once.
            col2 = Collector()
            sub2 = await sub_nc.subscribe("y.two", cb=col2.cb)
            await sync(sub_nc)
            await pub_nc.publish("y.two", b"a")
            await sync(pub_nc)
            await col2.wait_count(1)
            await sub2.unsubscribe(limit=1)
            await sync(sub_nc)
            before = sub_nc.stats["in_msgs"]
            sentinel = Collector()
            await sub_nc.subscribe("y.sentinel", cb=sentinel.cb)
            await sync(sub_nc)
            await pub_nc.publish("y.two", b"b")
            await pub_nc.publish("y.sentinel", b"end")
            await sync(pub_nc)
            await sentinel.wait_count(1)
            assert col2.payloads == [b"a"]
            assert sub_nc.stats["in_msgs"] == before + 1, "UNSUB with an already-reached max must stop delivery"
        finally:
            await close_all(sub_nc, pub_nc)

    asyncio.run(main())


# --------------------------------------------------------------------------- 9. echo


def test_no_echo(server):
    async def main():
        quiet = await connect(server, no_echo=True)
        loud = await connect(server)
        try:
            q_col, l_col = Collector(), Collector()
            await quiet.subscribe("echo.test", cb=q_col.cb)
            await loud.subscribe("echo.test", cb=l_col.cb)
            await sync(quiet)
            await sync(loud)

            await quiet.publish("echo.test", b"from-quiet")
            await sync(quiet)
            await loud.publish("echo.test", b"from-loud")
            await sync(loud)

            await l_col.wait_count(2)
            await q_col.wait_until(lambda ms: any(m.data == b"from-loud" for m in ms), "from-loud")
            await sync(quiet)
            await sync(loud)

            assert q_col.payloads == [b"from-loud"], "no_echo connection must not get its own messages"
            assert sorted(l_col.payloads) == [b"from-loud", b"from-quiet"]
        finally:
            await close_all(quiet, loud)

    asyncio.run(main())


def test_echo_default_on(server):
    async def main():
        nc = await connect(server)
        try:
            col = Collector()
            await nc.subscribe("echo.self", cb=col.cb)
            await nc.publish("echo.self", b"me")
            await sync(nc)
            await col.wait_count(1)
            assert col.payloads == [b"me"]
        finally:
            await nc.close()

    asyncio.run(main())


# --------------------------------------------------------------------------- 10. auth


async def _expect_auth_failure(srv: RunningServer, **creds) -> None:
    t0 = time.monotonic()
    with pytest.raises(Exception) as excinfo:
        nc = await nats.connect(
            servers=[srv.url],
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=2,
            error_cb=_quiet_error_cb,
            **creds,
        )
        await nc.close()  # only reached if the server wrongly accepted us
    elapsed = time.monotonic() - t0
    err = excinfo.value
    assert isinstance(err, nats.errors.Error), f"unexpected exception type {type(err)!r}: {err!r}"
    text = str(err).lower()
    assert "authorization violation" in text, f"expected an authorization error, got {err!r}"
    assert elapsed < 2.0, f"auth rejection took {elapsed:.2f}s"


async def _check_works(srv: RunningServer, **creds) -> None:
    nc = await nats.connect(
        servers=[srv.url],
        allow_reconnect=False,
        max_reconnect_attempts=0,
        connect_timeout=2,
        error_cb=_quiet_error_cb,
        **creds,
    )
    try:
        assert nc._server_info.get("auth_required") is True
        sub = await nc.subscribe("auth.ok")
        await nc.publish("auth.ok", b"authed")
        await sync(nc)
        msg = await sub.next_msg(timeout=WAIT_S)
        assert msg.data == b"authed"
    finally:
        await nc.close()


def test_auth_token(server_factory):
    srv = server_factory.start(token="s3cr3t-t0ken")

    async def main():
        await _check_works(srv, token="s3cr3t-t0ken")
        await _expect_auth_failure(srv, token="wrong-token")
        await _expect_auth_failure(srv)  # no credentials at all
        await _expect_auth_failure(srv, user="s3cr3t-t0ken", password="s3cr3t-t0ken")
        # The server is still healthy after the rejections.
        await _check_works(srv, token="s3cr3t-t0ken")

    asyncio.run(main())


def test_auth_user_password(server_factory):
    srv = server_factory.start(user="alice", password="wonderland")

    async def main():
        await _check_works(srv, user="alice", password="wonderland")
        await _expect_auth_failure(srv, user="alice", password="wrong")
        await _expect_auth_failure(srv, user="bob", password="wonderland")
        await _expect_auth_failure(srv)
        await _expect_auth_failure(srv, token="wonderland")
        await _check_works(srv, user="alice", password="wonderland")

    asyncio.run(main())


def test_auth_user_password_in_url(server_factory):
    srv = server_factory.start(user="carol", password="p4ss")

    async def main():
        nc = await nats.connect(
            servers=[f"nats://carol:p4ss@{srv.host}:{srv.port}"],
            allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2,
            error_cb=_quiet_error_cb,
        )
        try:
            await sync(nc, timeout=WAIT_S)
            assert nc.is_connected
        finally:
            await nc.close()

    asyncio.run(main())


# --------------------------------------------------------------------------- 11. max payload


def test_max_payload(server_factory):
    srv = server_factory.start(max_payload=1024)

    async def main():
        nc = await connect(srv)
        try:
            assert nc.max_payload == 1024
            col = Collector()
            await nc.subscribe("mp.test", cb=col.cb)
            await sync(nc)

            with pytest.raises(nats.errors.MaxPayloadError):
                await nc.publish("mp.test", b"z" * 2000)
            with pytest.raises(nats.errors.MaxPayloadError):
                await nc.publish("mp.test", b"z" * 1025)

            exact = bytes(i & 0xFF for i in range(1024))
            await nc.publish("mp.test", exact)
            await sync(nc)
            await col.wait_count(1)
            assert col.payloads == [exact]

            # Headers + payload together must also fit; a small header on a
            # small payload is fine.
            await nc.publish("mp.test", b"small", headers={"A": "b"})
            await sync(nc)
            await col.wait_count(2)
            assert col.msgs[1].headers == {"A": "b"}
            assert nc.is_connected
        finally:
            await nc.close()

    asyncio.run(main())


def test_max_payload_enforced_by_server(server_factory):
    """A client ignoring INFO max_payload gets -ERR 'Maximum Payload Violation'
    and is disconnected; the oversized message is not delivered."""
    srv = server_factory.start(max_payload=1024)

    async def main():
        # 1. Protocol level, deterministic: send only the PUB control line
        #    announcing an oversized payload and read until the server closes.
        reader, writer = await asyncio.open_connection(srv.host, srv.port)
        try:
            info = await asyncio.wait_for(reader.readline(), WAIT_S)
            assert info.startswith(b"INFO "), info
            writer.write(b'CONNECT {"verbose":false,"pedantic":false}\r\nPUB mp.raw 2000\r\n')
            await writer.drain()
            rest = await asyncio.wait_for(reader.read(), WAIT_S)  # until EOF
            assert rest == b"-ERR 'Maximum Payload Violation'\r\n", rest
        finally:
            writer.close()

        # 2. Through nats-py with its client-side check bypassed.
        errors: list[Exception] = []
        closed = asyncio.Event()

        async def error_cb(e):
            errors.append(e)

        async def closed_cb():
            closed.set()

        nc = await connect(srv, error_cb=error_cb, closed_cb=closed_cb)
        watcher = await connect(srv)
        try:
            col = Collector()
            await watcher.subscribe("mp.server", cb=col.cb)
            await sync(watcher)

            nc._max_payload = 1 << 20  # bypass the client-side check on purpose
            await nc.publish("mp.server", b"q" * 2000)  # the flusher task sends it
            try:
                await asyncio.wait_for(closed.wait(), WAIT_S)
            except asyncio.TimeoutError:
                pytest.fail("server did not close a connection that exceeded max_payload")
            seen = errors + ([nc.last_error] if nc.last_error else [])
            # nats-server closes with the rest of the payload unread, so the
            # kernel may send RST and the client sees a reset before it can
            # read the -ERR line; part 1 checks the -ERR text itself.
            assert any("maximum payload" in str(e).lower() or isinstance(e, ConnectionResetError)
                       for e in seen), f"unexpected errors {seen!r}"

            # The oversized message was never delivered; the server still works.
            await watcher.publish("mp.server", b"ok")
            await sync(watcher)
            await col.wait_count(1)
            assert col.payloads == [b"ok"]
        finally:
            await close_all(nc, watcher)

    asyncio.run(main())


# --------------------------------------------------------------------------- 12. many connections


def test_many_connections(server):
    N = 50

    async def main():
        conns = await asyncio.gather(*(connect(server) for _ in range(N)))
        pub_nc = await connect(server)
        try:
            loop = asyncio.get_running_loop()
            futures = [loop.create_future() for _ in range(N)]

            def make_cb(i):
                async def cb(msg):
                    if not futures[i].done():
                        futures[i].set_result((msg.subject, msg.data))
                return cb

            await asyncio.gather(*(nc.subscribe(f"many.{i}", cb=make_cb(i)) for i, nc in enumerate(conns)))
            await asyncio.gather(*(sync(nc, timeout=WAIT_S) for nc in conns))

            for i in range(N):
                await pub_nc.publish(f"many.{i}", f"hello {i}".encode())
            await sync(pub_nc)

            try:
                results = await asyncio.wait_for(asyncio.gather(*futures), 10)
            except asyncio.TimeoutError:
                missing = [i for i, f in enumerate(futures) if not f.done()]
                pytest.fail(f"connections {missing} never got their message")
            assert results == [(f"many.{i}", f"hello {i}".encode()) for i in range(N)]

            await asyncio.gather(*(sync(nc, timeout=WAIT_S) for nc in conns))
            assert all(nc.stats["in_msgs"] == 1 for nc in conns), [nc.stats["in_msgs"] for nc in conns]
            assert len({nc.client_id for nc in conns}) == N, "client ids must be unique"
        finally:
            await close_all(*conns, pub_nc)

    asyncio.run(main())
