"""A stdio MCP server that attacks its client, for HiveMCPTests (HostileServerTests). `--mode M` picks the attack:

- huge-line: tools/call answers with one 100 MB line.
- deep: tools/call answers with JSON nested a million arrays deep (within the 4 MiB message limit).
- bad-utf8: tools/call answers with bytes that are not UTF-8 inside a string.
- ref-chain: tools/list offers `chain`, whose schema is a 10,000-deep $ref chain, beside a plain `echo`.
- cursor-loop: tools/list always answers with a nextCursor (the same one), for ever.
- deep-list: tools/list answers with a tool whose schema is nested 100,000 objects deep.
Every other call is answered plainly, so the client's recovery can be checked.
"""
import json
import sys

args = sys.argv[1:]
mode = args[args.index("--mode") + 1]
obj = {"type": "object"}
ECHO = {"name": "echo", "description": "Echoes text.", "annotations": {"readOnlyHint": True},
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}


def send_bytes(b):
    sys.stdout.buffer.write(b + b"\n")
    sys.stdout.buffer.flush()


def send(msg):
    send_bytes(json.dumps(msg).encode())


def chain(depth):
    defs = {f"d{i}": {"$ref": f"#/$defs/d{i + 1}"} for i in range(depth)}
    defs[f"d{depth}"] = {"type": "string"}
    return {"type": "object", "properties": {"x": {"$ref": "#/$defs/d0"}}, "$defs": defs}


for line in sys.stdin.buffer:
    msg = json.loads(line)
    mid, method, params = msg.get("id"), msg.get("method"), msg.get("params") or {}
    if mid is None:
        continue
    head = b'{"jsonrpc": "2.0", "id": ' + str(mid).encode() + b', "result": '
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": mid, "result": {"protocolVersion": params["protocolVersion"],
                                                      "capabilities": {"tools": {}}, "serverInfo": {"name": "hostile", "version": "1"}}})
    elif method == "tools/list":
        if mode == "cursor-loop":
            send({"jsonrpc": "2.0", "id": mid, "result": {"tools": [], "nextCursor": "again"}})
        elif mode == "ref-chain":
            send({"jsonrpc": "2.0", "id": mid, "result": {"tools": [
                {"name": "chain", "description": "A 10k-deep $ref chain.", "inputSchema": chain(10_000)}, ECHO]}})
        elif mode == "deep-list":
            n = 100_000
            deep = b'{"type": "object", "properties": {"x": ' * n + b'{}' + b'}}' * n
            send_bytes(head + b'{"tools": [{"name": "deep", "description": "d", "inputSchema": ' + deep + b'}]}}')
        else:
            send({"jsonrpc": "2.0", "id": mid, "result": {"tools": [ECHO]}})
    elif method == "tools/call":
        text = (params.get("arguments") or {}).get("text", "")
        if text == "attack" and mode == "huge-line":
            chunk = b"x" * (1 << 20)
            sys.stdout.buffer.write(head + b'{"content": [{"type": "text", "text": "')
            for _ in range(100):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.write(b'"}]}}\n')
            sys.stdout.buffer.flush()
        elif text == "attack" and mode == "deep":
            n = 1_000_000
            send_bytes(head + b'{"content": [{"type": "text", "text": "t"}], "x": ' + b"[" * n + b"]" * n + b"}}")
        elif text == "attack" and mode == "bad-utf8":
            send_bytes(head + b'{"content": [{"type": "text", "text": "a\xff\xfe\xc0\x80b"}]}}')
        else:
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": text}]}})
    else:
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": f"no method {method}"}})
