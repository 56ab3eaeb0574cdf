"""A streamable HTTP MCP server for HiveMCPTests, written with the `mcp` SDK (PyPI `mcp`).

Binds 127.0.0.1 on a free port and prints `PORT <n>` once it listens. `--handshake-only` refuses the stateless revision. `POST /forget` makes it forget every session
it has handed out (the next request with one of them gets the SDK's own 404), as a restarted server would. The `grow`
tool adds a tool `extra` and sends notifications/tools/list_changed on its reply's stream.
"""
import asyncio
import os
import socket
import sys

import uvicorn
from pydantic import BaseModel
from mcp import types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from starlette.requests import Request
from starlette.responses import PlainTextResponse

server = MCPServer("hive-test-http")
forgotten: set[str] = set()
seen: set[str] = set()


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def add(a: int, b: int) -> str:
    """Adds two integers."""
    return str(a + b)


class Address(BaseModel):
    street: str
    city: str


class Order(BaseModel):
    item: str
    ship_to: Address
    bill_to: Address


@server.tool()
def place_order(order: Order) -> str:
    """Places an order (nested models: the schema has $defs and $ref)."""
    return f"{order.item} to {order.ship_to.city}"


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
async def hang() -> str:
    """Never answers."""
    await asyncio.sleep(3600)
    return "late"


@server.tool()
def fail() -> str:
    """Always fails, as a tool (isError)."""
    raise ToolError("this tool always fails")


@server.tool()
def die() -> str:
    """Ends the server process in the middle of the call."""
    os._exit(3)


def extra() -> str:
    """Added by grow."""
    return "extra"


@server.tool()
async def grow(ctx: Context) -> str:
    """Adds the tool extra and says the tool list changed."""
    server.add_tool(extra)
    await ctx.session.send_notification(types.ToolListChangedNotification(), related_request_id=ctx.request_id)
    return "grown"


async def forget(request: Request) -> PlainTextResponse:
    forgotten.update(seen)
    return PlainTextResponse(f"forgot {len(seen)}")


app = server.streamable_http_app()
from starlette.routing import Route  # noqa: E402

app.router.routes.insert(0, Route("/forget", forget, methods=["POST"]))


HANDSHAKE_ONLY = "--handshake-only" in sys.argv


async def forgetful(scope, receive, send):
    """Records session ids; a forgotten one is replaced by an unknown one, which the SDK answers with 404. With
    --handshake-only, a stateless (2026-07-28) request is refused as a server of the 2025 revisions refuses a
    request without a session: 400."""
    if scope["type"] == "http":
        if HANDSHAKE_ONLY and (b"mcp-protocol-version", b"2026-07-28") in scope["headers"]:
            await PlainTextResponse("Bad Request: Missing session ID", status_code=400)(scope, receive, send)
            return
        headers = []
        for k, v in scope["headers"]:
            if k == b"mcp-session-id":
                sid = v.decode()
                seen.add(sid)
                if sid in forgotten:
                    v = b"forgotten-" + v
            headers.append((k, v))
        scope = dict(scope, headers=headers)
    await app(scope, receive, send)


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(forgetful, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())
