"""Permissions through nats-py, side by side: the same principals on honeycombd and on nats-server, and the
client must see the same thing from both (the errors its error callback gets, what it receives)."""

from __future__ import annotations

import asyncio

import nats

from test_nats_py import WAIT_S, sync

PRINCIPALS = [
    {"name": "app", "user": "app", "pass": "pa", "permissions": {
        "publish": {"allow": ["orders.*", "_INBOX.>"], "deny": ["orders.admin"]},
        "subscribe": {"allow": ["orders.*", "_INBOX.>"], "deny": ["orders.audit"]}}},
    {"name": "svc", "user": "svc", "pass": "ps", "permissions": {
        "subscribe": {"allow": ["rpc.add"]}, "allow_responses": {"max": 1, "expires_ms": 60000}}},
    {"name": "root", "user": "root", "pass": "pr", "permissions": {}},
]


async def login(srv, user, password, errors):
    async def on_error(e):
        errors.append(str(e))

    return await nats.connect(servers=[srv.url], user=user, password=password, allow_reconnect=False,
                              max_reconnect_attempts=0, connect_timeout=2, error_cb=on_error)


async def wait_for(errors, n):
    for _ in range(int(WAIT_S / 0.01)):
        if len(errors) >= n:
            return
        await asyncio.sleep(0.01)


def test_violations_reach_the_error_callback_and_the_connection_stays(server_factory):
    srv = server_factory.start(principals=PRINCIPALS)

    async def main():
        errors: list[str] = []
        root = await login(srv, "root", "pr", [])
        app = await login(srv, "app", "pa", errors)
        seen = await root.subscribe("orders.>")
        await sync(root)
        await app.subscribe(">")
        await app.subscribe("orders.audit")
        await app.publish("orders.admin", b"no")
        await app.publish("payments.x", b"no")
        await app.publish("orders.new", b"yes")
        await sync(app)
        await wait_for(errors, 4)
        assert errors == [
            'nats: permissions violation for subscription to ">"',
            'nats: permissions violation for subscription to "orders.audit"',
            'nats: permissions violation for publish to "orders.admin"',
            'nats: permissions violation for publish to "payments.x"',
        ]
        assert app.is_connected
        msg = await seen.next_msg(timeout=WAIT_S)
        assert (msg.subject, msg.data) == ("orders.new", b"yes")
        await app.close()
        await root.close()

    asyncio.run(main())


def test_a_denied_subject_never_arrives_through_an_allowed_wildcard(server_factory):
    srv = server_factory.start(principals=PRINCIPALS)

    async def main():
        root = await login(srv, "root", "pr", [])
        app = await login(srv, "app", "pa", [])
        sub = await app.subscribe("orders.*")
        await sync(app)
        await root.publish("orders.audit", b"secret")
        await root.publish("orders.new", b"ok")
        await sync(root)
        msg = await sub.next_msg(timeout=WAIT_S)
        assert (msg.subject, msg.data) == ("orders.new", b"ok")
        await app.close()
        await root.close()

    asyncio.run(main())


def test_allow_responses_lets_a_service_answer_requests_once(server_factory):
    srv = server_factory.start(principals=PRINCIPALS)

    async def main():
        errors: list[str] = []
        root = await login(srv, "root", "pr", [])
        svc = await login(srv, "svc", "ps", errors)

        async def handler(msg):
            await msg.respond(b"3")
            await msg.respond(b"again")  # a second answer is over max 1

        await svc.subscribe("rpc.add", cb=handler)
        await sync(svc)
        reply = await root.request("rpc.add", b"1+2", timeout=WAIT_S)
        assert reply.data == b"3"
        await svc.publish("rpc.other", b"x")
        await sync(svc)
        await wait_for(errors, 2)
        assert len(errors) == 2
        assert errors[0].startswith('nats: permissions violation for publish to "_inbox.')  # nats-py lowercases the text
        assert errors[1] == 'nats: permissions violation for publish to "rpc.other"'
        await svc.close()
        await root.close()

    asyncio.run(main())
