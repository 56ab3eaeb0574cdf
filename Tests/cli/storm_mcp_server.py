"""An MCP server whose tool list changes at every tools/list and that says so right after each answer."""
import json, sys
n = 0
def send(m):
    sys.stdout.write(json.dumps(m) + "\n"); sys.stdout.flush()
for line in sys.stdin:
    msg = json.loads(line)
    mid, method = msg.get("id"), msg.get("method")
    if mid is None or method is None:
        continue
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": mid, "result": {"protocolVersion": msg["params"].get("protocolVersion", "2025-06-18"),
              "capabilities": {"tools": {"listChanged": True}}, "serverInfo": {"name": "storm", "version": "1"}}})
    elif method == "tools/list":
        n += 1
        send({"jsonrpc": "2.0", "id": mid, "result": {"tools": [{"name": "t", "description": f"version {n}",
              "annotations": {"readOnlyHint": True}, "inputSchema": {"type": "object"}}]}})
        send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    else:
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "no"}})
