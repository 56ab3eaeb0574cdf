"""TLS compatibility: nats-py over TLS against honeycombd and, side by side, nats-server with the same certificate.

Every test runs once per server kind (see conftest.py). The certificates come from ``honeycombd tls init`` and
``honeycombd tls client``; nats-server is started with ``--tls --tlscert --tlskey`` (and ``--tlsverify
--tlscacert`` for mutual TLS). Synchronisation: flushes and futures, never sleeps.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl

import nats
import pytest

from conftest import RunningServer, TLSCerts, sync

WAIT_S = 5.0


async def _quiet(_e: Exception) -> None:
    pass


def client_context(certs: TLSCerts, *, with_certificate: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    if with_certificate:
        ctx.load_cert_chain(str(certs.client_cert), str(certs.client_key))
    return ctx


async def connect(srv: RunningServer, ctx, **kw) -> nats.NATS:
    opts = dict(servers=[srv.url], allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=WAIT_S,
                error_cb=_quiet)
    if ctx is not None:
        opts["tls"] = ctx
    opts.update(kw)
    return await nats.connect(**opts)


def certificate_problem(e: BaseException) -> bool:
    """True when ``e`` (or what it wraps) is a TLS certificate verification failure."""
    seen = 0
    while e is not None and seen < 8:
        if isinstance(e, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(e):
            return True
        e = e.__cause__ or e.__context__
        seen += 1
    return False


# --------------------------------------------------------------------------- round trips


def test_pub_sub_over_tls(server_factory, tls_certs):
    srv = server_factory.start(tls=tls_certs)

    async def run():
        sub_nc = await connect(srv, client_context(tls_certs))
        pub_nc = await connect(srv, client_context(tls_certs))
        got = []
        done = asyncio.get_running_loop().create_future()

        async def on_msg(m):
            got.append(m.data)
            if len(got) == 100 and not done.done():
                done.set_result(None)

        await sub_nc.subscribe("tls.test", cb=on_msg)
        await sync(sub_nc)
        for i in range(100):
            await pub_nc.publish("tls.test", f"m{i}".encode())
        await asyncio.wait_for(done, WAIT_S)
        assert got == [f"m{i}".encode() for i in range(100)]
        big = bytes(range(256)) * 4096  # 1 MiB
        big_sub = await sub_nc.subscribe("tls.big")
        await sync(sub_nc)
        await pub_nc.publish("tls.big", big)
        assert (await big_sub.next_msg(timeout=WAIT_S)).data == big
        await sub_nc.close()
        await pub_nc.close()

    asyncio.run(run())


def test_request_reply_over_tls(server_factory, tls_certs):
    srv = server_factory.start(tls=tls_certs)

    async def run():
        responder = await connect(srv, client_context(tls_certs))
        requester = await connect(srv, client_context(tls_certs))

        async def answer(m):
            await m.respond(b"re:" + m.data)

        await responder.subscribe("svc.echo", cb=answer)
        await sync(responder)
        for i in range(20):
            reply = await requester.request("svc.echo", f"q{i}".encode(), timeout=WAIT_S)
            assert reply.data == f"re:q{i}".encode()
        await responder.close()
        await requester.close()

    asyncio.run(run())


def test_headers_over_tls(server_factory, tls_certs):
    srv = server_factory.start(tls=tls_certs)

    async def run():
        nc = await connect(srv, client_context(tls_certs))
        sub = await nc.subscribe("tls.headers")
        await sync(nc)
        await nc.publish("tls.headers", b"body", headers={"Hive-Goal": "g-1", "X-Trace": "abc"})
        m = await sub.next_msg(timeout=WAIT_S)
        assert m.data == b"body"
        assert m.headers == {"Hive-Goal": "g-1", "X-Trace": "abc"}
        await nc.close()

    asyncio.run(run())


# --------------------------------------------------------------------------- refusals


def test_a_server_signed_by_another_ca_is_refused_with_a_certificate_error(server_factory, tls_certs, other_ca):
    srv = server_factory.start(tls=tls_certs)

    async def run():
        with pytest.raises(Exception) as info:
            await connect(srv, client_context(other_ca))
        assert certificate_problem(info.value), repr(info.value)

    asyncio.run(run())


def test_nats_py_without_a_ca_does_not_trust_a_private_ca(server_factory, tls_certs):
    # nats-py upgrades on tls_required even without a context of its own, verifying with the system's CAs.
    srv = server_factory.start(tls=tls_certs)
    srv.tls = False  # a nats:// URL and no TLS options: what a plain-text application would use

    async def run():
        with pytest.raises(Exception) as info:
            await connect(srv, None)
        assert certificate_problem(info.value), repr(info.value)

    asyncio.run(run())


def test_a_plain_text_client_is_refused(server_factory, tls_certs):
    srv = server_factory.start(tls=tls_certs)
    with socket.create_connection((srv.host, srv.port), timeout=WAIT_S) as s:
        f = s.makefile("rb")
        info = f.readline()
        assert info.startswith(b"INFO ")
        fields = json.loads(info[5:])
        assert fields.get("tls_required") is True, info
        s.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
        rest = b""
        while True:  # until the server closes (bounded by the socket timeout)
            chunk = f.read1(4096)
            if not chunk:
                break
            rest += chunk
    assert b"PONG" not in rest
    if srv.kind == "honeycombd":
        assert rest == b"-ERR 'Secure Connection - TLS Required'\r\n"
    else:  # nats-server 2.9 closes without a word; newer ones send the same -ERR
        assert rest in (b"", b"-ERR 'Secure Connection - TLS Required'\r\n")


# --------------------------------------------------------------------------- mutual TLS


def test_mutual_tls_accepts_a_client_certificate(server_factory, tls_certs):
    srv = server_factory.start(tls=tls_certs, tls_verify=True)

    async def run():
        nc = await connect(srv, client_context(tls_certs, with_certificate=True))
        assert nc._server_info.get("tls_verify") is True
        sub = await nc.subscribe("mtls")
        await nc.publish("mtls", b"ok")
        assert (await sub.next_msg(timeout=WAIT_S)).data == b"ok"
        await nc.close()

    asyncio.run(run())


def test_mutual_tls_refuses_a_client_without_a_certificate(server_factory, tls_certs):
    srv = server_factory.start(tls=tls_certs, tls_verify=True)

    async def run():
        # TLS 1.3: the client's side of the handshake completes; the server's alert ends the connection next.
        with pytest.raises(Exception):
            nc = await connect(srv, client_context(tls_certs))
            await nc.flush(timeout=WAIT_S)
        # The server is unharmed: a client with a certificate still gets in.
        nc = await connect(srv, client_context(tls_certs, with_certificate=True))
        await nc.flush(timeout=WAIT_S)
        await nc.close()

    asyncio.run(run())
