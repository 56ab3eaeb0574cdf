"""A hand-written stdio MCP server for HiveMCPTests: no SDK, so it can misbehave on purpose.

Tools: echo (read-only), hang (never answers), die (exits mid-call), garbage (writes a line that is not JSON),
spawn (starts a grandchild `sleep` and prints its pid), huge (a 100 kB reply), mute (closes its stdout and
sleeps), flip (its description changes at every tools/list), change (echo's description changes, and the server
sends notifications/tools/list_changed), flood (5000 pings to the client before its reply, stdin unread),
pings (how many ping replies came back).
tools/list is paged: one tool per page via nextCursor. `--version V` answers initialize with protocol V.
`--pid-file F` writes the server's pid to F; `--grandchild-pid-file F` starts a `sleep` at once and writes its pid.
"""
import json
import os
import subprocess
import sys
import time

args = sys.argv[1:]
version = args[args.index("--version") + 1] if "--version" in args else None
if "--pid-file" in args:
    with open(args[args.index("--pid-file") + 1], "w") as f:
        f.write(str(os.getpid()))
if "--grandchild-pid-file" in args:
    sleeper = subprocess.Popen(["sleep", "3600"])
    with open(args[args.index("--grandchild-pid-file") + 1], "w") as f:
        f.write(str(sleeper.pid))
lists = 0
echo_version = 0
ping_replies = 0
obj = {"type": "object"}
TOOLS = [
    {"name": "echo", "description": "Echoes text.", "annotations": {"readOnlyHint": True},
     "inputSchema": {"type": "object", "properties": {"text": {"$ref": "#/definitions/text"}}, "required": ["text"],
                     "definitions": {"text": {"type": "string", "maxLength": 100}}}},
    {"name": "hang", "description": "Never answers.", "annotations": {"readOnlyHint": True}, "inputSchema": obj},
    {"name": "die", "description": "Exits mid-call.", "inputSchema": obj},
    {"name": "flaky", "description": "Exits mid-call the first time (--marker F), answers after.",
     "annotations": {"readOnlyHint": True}, "inputSchema": obj},
    {"name": "garbage", "description": "Answers with a line that is not JSON.", "inputSchema": obj},
    {"name": "spawn", "description": "Starts a grandchild.", "inputSchema": obj},
    {"name": "change", "description": "Changes echo's description and says so.", "inputSchema": obj},
    {"name": "flood", "description": "Pings the client 5000 times.", "inputSchema": obj},
    {"name": "pings", "description": "Ping replies received.", "inputSchema": obj},
    {"name": "loop", "description": "A recursive schema.",
     "inputSchema": {"$ref": "#/$defs/node", "$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}}}},
]


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    msg = json.loads(line)
    mid, method, params = msg.get("id"), msg.get("method"), msg.get("params") or {}
    if mid is None:
        continue
    if method is None:  # a reply to one of our pings
        ping_replies += 1
        continue
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": mid, "result": {"protocolVersion": version or params["protocolVersion"],
                                                      "capabilities": {"tools": {}}, "serverInfo": {"name": "raw", "version": "1"}}})
    elif method == "tools/list":
        i = int(params.get("cursor", "0"))
        TOOLS[0]["description"] = "Echoes text." + (f" (version {echo_version})" if echo_version else "")
        tools = TOOLS + [{"name": "flip", "description": f"listed {lists} times before", "inputSchema": obj}]
        if i == len(tools) - 1:
            lists += 1
        result = {"tools": [tools[i]]}
        if i + 1 < len(tools):
            result["nextCursor"] = str(i + 1)
        send({"jsonrpc": "2.0", "id": mid, "result": result})
    elif method == "tools/call":
        name = params["name"]
        if name == "echo":
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": params["arguments"].get("text", "")}]}})
        elif name == "change":
            echo_version += 1
            send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": f"echo is version {echo_version}"}]}})
        elif name == "flood":
            for i in range(5000):
                send({"jsonrpc": "2.0", "id": f"p{i}", "method": "ping"})
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": "flooded"}]}})
        elif name == "pings":
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": str(ping_replies)}]}})
        elif name == "hang":
            if "--hang-marker" in args:  # tells a test the call has arrived (it never gets an answer)
                open(args[args.index("--hang-marker") + 1], "w").close()
        elif name == "die":
            sys.exit(4)
        elif name == "garbage":
            sys.stdout.write("this is not json\n")
            sys.stdout.flush()
        elif name == "flaky":
            marker = args[args.index("--marker") + 1]
            if not os.path.exists(marker):
                open(marker, "w").close()
                sys.exit(5)
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": "recovered"}]}})
        elif name == "huge":
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": "x" * 100000}]}})
        elif name == "mute":
            os.close(1)
            time.sleep(3600)
        elif name == "spawn":
            child = subprocess.Popen(["sleep", "3600"])
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": str(child.pid)}]}})
        else:
            send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": f"no tool {name}"}], "isError": True}})
    else:
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": f"no method {method}"}})
