"""A drone hosting MCP servers (`drone --mcp`), as real processes: its hello advertises the servers' tools, a server
that cannot start is left out with a warning, and no server process outlives the drone: SIGTERM, `kill -9` (the
leader dies with the drone; what it started is swept by the next drone under the same name)."""
import json, os, pathlib, signal, sys

from conftest import DRONE, hive, wait_for_log, wait_until
from test_control_plane import drones_by_name, start_honeycombd

RAW = str(pathlib.Path(__file__).resolve().parents[1] / "HiveMCPTests" / "raw_stdio_server.py")
VENV_BIN = os.path.dirname(sys.executable)


def alive(pid):
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_pid(path):
    try:
        text = path.read_text().strip()
        return int(text) if text else None
    except OSError:
        return None


# Tools are for agents: a drone hosts MCP servers only with a model to run them. These tests never ask it for a
# turn, so the model's API is an address nothing listens on.
NO_CALLS_API = ("--api", "openai", "--base-url", "http://127.0.0.1:9", "--api-model", "tiny")


def start_drone(procs, url, *mcp, name="mcpd", model=NO_CALLS_API, extra=()):
    args = [DRONE, "--honeycomb", url, "--name", name, *model, *extra]
    for m in mcp:
        args += ["--mcp", m]
    d = procs.start(args)
    d.startup_log = "".join(wait_for_log(d, "event=joined", timeout=60))
    return d


def test_the_hello_names_the_tools_and_a_broken_server_is_left_out(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    d = start_drone(procs, url, f"time={VENV_BIN}/mcp-server-time", "broken=/nonexistent/mcp-server")
    assert "event=mcp_server_unavailable" in d.startup_log and "server=broken" in d.startup_log
    caps = wait_until("the drone's tools in hive drones",
                      lambda: drones_by_name(url).get("mcpd", {}).get("capabilities"))
    assert "tool:time.get_current_time" in caps
    assert "tool:time.convert_time" in caps
    assert not any(c.startswith("tool:broken.") for c in caps)


def test_sigterm_ends_the_servers(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    pid_file = tmp_path / "server.pid"
    d = start_drone(procs, url, f"raw={sys.executable} {RAW} --pid-file {pid_file}")
    server = read_pid(pid_file)
    assert server and alive(server)
    d.send_signal(signal.SIGTERM)
    d.wait(timeout=30)
    wait_until("the MCP server gone after the drone's SIGTERM", lambda: not alive(server), timeout=10)


def test_kill_9_takes_the_server_along_and_the_next_drone_sweeps_its_children(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    pid_file, grandchild_file = tmp_path / "server.pid", tmp_path / "grandchild.pid"
    server_cmd = f"raw={sys.executable} {RAW} --pid-file {pid_file} --grandchild-pid-file {grandchild_file}"
    d = start_drone(procs, url, server_cmd, name="sweep")
    server, grandchild = read_pid(pid_file), read_pid(grandchild_file)
    assert server and grandchild and alive(server) and alive(grandchild)
    d.kill()
    d.wait(timeout=10)
    # The leader dies with the drone (PR_SET_PDEATHSIG); its child has left the drone's reach until the next start.
    wait_until("the MCP server gone after kill -9 of its drone", lambda: not alive(server), timeout=10)
    assert alive(grandchild)
    pid_file.unlink()
    grandchild_file.unlink()
    start_drone(procs, url, f"raw={sys.executable} {RAW}", name="sweep")
    wait_until("the dead drone's MCP server's child swept by its successor", lambda: not alive(grandchild), timeout=10)


def test_a_drone_without_a_model_starts_no_server_and_offers_no_tool(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    pid_file = tmp_path / "server.pid"
    d = start_drone(procs, url, f"raw={sys.executable} {RAW} --pid-file {pid_file}", model=(), extra=("--allow-exec", "/bin/date"))
    assert "event=tools_unused" in d.startup_log and "no --model or --api" in d.startup_log, d.startup_log
    caps = wait_until("the drone in hive drones", lambda: drones_by_name(url).get("mcpd", {}).get("capabilities"))
    assert "exec:/bin/date" in caps, caps
    assert not any(c.startswith("tool:") or c == "backend:agent" for c in caps), caps
    assert not pid_file.exists(), "the server was not started"


def test_a_servers_list_changed_is_announced_and_new_goals_pin_the_new_definition(procs, tmp_path):
    """raw_stdio_server's `change` tool changes echo's description and sends notifications/tools/list_changed: the drone
    lists again and announces its tools, so honeycombd's pin for raw.echo follows."""
    from test_agents import agent_goal, reply
    from test_external_brains import ScriptedProvider
    p = ScriptedProvider([reply(call=("raw__change", {})), reply(content="changed")])
    url = start_honeycombd(procs, tmp_path).url
    d = start_drone(procs, url, f"raw={sys.executable} {RAW}", model=("--api", "openai", "--base-url", p.url, "--api-model", "tiny"),
                    extra=("--mcp-read-only", "raw"))

    def pins():
        rec = drones_by_name(url).get("mcpd", {})
        return rec.get("toolPins") or rec.get("tool_pins")

    before = wait_until("the drone's tool pins", pins)["raw.echo"]
    r = hive("submit", agent_goal(tmp_path, ["raw.change"], prompt="Change echo."), "--wait", "--json", "--honeycomb", url, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(json.loads(r.stdout)["tasks"][0]["output"])["steps"][0]["result"] == "echo is version 1"
    after = wait_until("the new pin of raw.echo announced", lambda: (pins() or {}).get("raw.echo") != before and pins()["raw.echo"])
    assert after.startswith("sha256:") and after != before
    wait_for_log(d, "event=tools_changed")


def test_an_mcp_server_cannot_take_the_exec_tools_prefix():
    # `exec.<name>` are the drone's own allow-listed commands: a server named exec would shadow them or be shadowed.
    import subprocess
    r = subprocess.run([DRONE, "--honeycomb", "nats://127.0.0.1:1", "--mcp", "exec=/bin/true"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "--mcp cannot name a server exec" in r.stderr
