"""The CLI as commands: help from the declarations, shared options anywhere, no goals from typos, `--` after
--exec, bad values named (issue 17, "The CLI as commands")."""
import json, subprocess

import pytest

from conftest import DRONE, HONEYCOMBD, HIVE, free_port, hive, wait_for_log

# Nothing listens here: a command that got past parsing fails to connect (exit 69), one that did not exits 64.
NOWHERE = "nats://127.0.0.1:1"


def run(binary, *args):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=15)


@pytest.mark.parametrize("args", [
    ["submit", "--help"], ["submit", "-h"], ["help", "submit"], ["eval", "--help"], ["goals", "--help"],
    ["module", "add", "--help"], ["help", "module", "rm"], ["drone", "add", "-h"], ["wasm", "run", "--help"],
    ["bench", "--help"], ["approve", "--help"], ["watch", "--help"],
])
def test_every_command_has_help_from_its_declaration(args):
    r = hive(*args)
    assert r.returncode == 0, r.stderr
    words = [a for a in args if a not in ("help", "--help", "-h")]
    assert r.stdout.startswith("usage: hive " + " ".join(words)), r.stdout
    assert "--honeycomb URLS" in r.stdout or "commands:" in r.stdout


def test_top_level_help_lists_commands_and_shared_options():
    r = hive("--help")
    assert r.returncode == 0
    for command in ("submit", "eval", "goals", "watch", "module", "wasm", "bench"):
        assert f"\n  {command} " in r.stdout
    assert "shared options (before or after the command)" in r.stdout and "--answer-timeout S" in r.stdout
    assert "bench-control" not in r.stdout  # internal, still accepted
    assert hive("help").stdout == r.stdout
    bare = hive()
    assert bare.returncode == 64 and bare.stdout == r.stdout


def test_submit_dash_h_is_help_not_a_goal():
    # No honeycombd is needed: help never connects (before, "-h" went to the architect as a goal).
    r = hive("submit", "-h", "--honeycomb", NOWHERE)
    assert r.returncode == 0 and "usage: hive submit" in r.stdout and r.stderr == ""


@pytest.mark.parametrize("args,message,command", [
    (["submit", "--cuont", "2", "x"], "unknown option '--cuont' for hive submit (did you mean --count?)", "submit"),
    (["submit", "-x", "goal"], "unknown option '-x' for hive submit", "submit"),
    (["gaols"], "unknown command 'gaols' for hive (did you mean goals?)", None),
    (["goals", "extra"], "unexpected argument 'extra' for hive goals", "goals"),
    (["submit", "--exec", "/bin/echo", "hi", "--count", "x"], "--count takes a whole number, not 'x'", "submit"),
    (["eval", "--count", "many"], "--count takes a whole number, not 'many'", "eval"),
    (["eval", "--suite", "poetry"], "--suite takes arithmetic, code, facts or sums, not 'poetry'", "eval"),
    (["eval", "--join", "coin"], "--join takes any, all, vote, best or synthesize[:K], not 'coin'", "eval"),
    (["submit", "--tier", "gold", "--exec", "/bin/true"], "--tier takes edge, worker or core", "submit"),
    (["bench", "--client", "fast"], "--client takes swift or raw, not 'fast'", "bench"),
    (["bench", "--messages", "lots"], "--messages takes a whole number from 1 to 1000000000, not 'lots'", "bench"),
    (["bench-control", "--tasks", "x"], "--tasks takes a whole number from 1 to 10000000, not 'x'", "bench-control"),
    (["goals", "--wait-timeout", "soon"], "--wait-timeout takes a number, not 'soon'", "goals"),
    (["drone", "add", "d1", "--tier", "gold"], "--tier takes edge, worker or core, not 'gold'", "drone add"),
    (["module"], "hive module needs one of: add, ls, rm", "module"),
    (["submit", "--honeycomb"], "--honeycomb needs a value (URLS)", "submit"),
])
def test_bad_command_lines_say_what_in_one_line_and_where_the_help_is(args, message, command):
    r = hive(*args, "--honeycomb", NOWHERE) if args[-1] != "--honeycomb" else hive(*args)
    assert r.returncode == 64, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 2, r.stderr  # never the whole usage
    assert lines[0].startswith("hive: ") and message in lines[0], lines[0]
    assert lines[1] == (f"see hive {command} --help" if command else "see hive --help")
    assert r.stdout == ""


@pytest.mark.parametrize("path", ["plans/typo.json", "missing.json", "./nowhere/plan"])
def test_a_mistyped_plan_path_is_refused_not_sent_as_words(path):
    r = hive("submit", path, "--honeycomb", NOWHERE)
    assert r.returncode == 66
    assert f"no such plan file: {path}; to submit words, quote them and don't end in .json" in r.stderr


def test_drone_and_honeycombd_use_the_same_command_line():
    for binary, args, fragment in [
        (DRONE, ["--slots", "x"], "drone: --slots takes a whole number from 1 to 4096, not 'x'"),
        (DRONE, ["--slot", "2"], "drone: unknown option '--slot' for drone (did you mean --slots?)"),
        (DRONE, ["bench", "--model", "m.gguf", "--runs", "x"], "drone: --runs takes a whole number from 1 to 1000, not 'x'"),
        (DRONE, ["bench", "--model", "m.gguf", "--parallel", "0"], "drone: --parallel takes a whole number from 1 to 4096, not '0'"),
        (HONEYCOMBD, ["tls", "init", "/tmp/x", "--days", "soon"], "honeycombd: --days takes a whole number from 1 to 36500"),
        (HONEYCOMBD, ["tls", "client", "/tmp/x"], "honeycombd: honeycombd tls client needs NAME"),
        (HONEYCOMBD, ["--listne", "x"], "honeycombd: unknown option '--listne' for honeycombd (did you mean --listen?)"),
    ]:
        r = run(binary, *args)
        assert r.returncode == 64 and fragment in r.stderr, (args, r.stderr)
    for binary, args, usage in [(DRONE, ["--help"], "usage: drone [options]"), (DRONE, ["bench", "--help"], "usage: drone bench"),
                                (HONEYCOMBD, ["--help"], "usage: honeycombd [options]"),
                                (HONEYCOMBD, ["tls", "init", "--help"], "usage: honeycombd tls init")]:
        r = run(binary, *args)
        assert r.returncode == 0 and r.stdout.startswith(usage), (args, r.stdout)


def test_shared_options_before_the_command_and_exec_ended_by_double_dash(procs, tmp_path):
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    hc = procs.start([HONEYCOMBD, "--listen", f"127.0.0.1:{port}", "--http", "off"])
    wait_for_log(hc, "event=bus_connected")
    d = procs.start([DRONE, "--honeycomb", url, "--name", "d0", "--allow-exec", "/bin/echo"])
    wait_for_log(d, "event=joined")
    # Shared options before the command, and options after `--`: the echoed words include what looks like ours.
    r = hive("--honeycomb", url, "--json", "submit", "--exec", "/bin/echo", "--count", "-h", "--", "--count", "2", "--wait",
             timeout=60)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert [t["output"] for t in result["tasks"]] == ["--count -h\n", "--count -h\n"]
    goals = hive("--honeycomb", url, "goals", "--json")
    assert goals.returncode == 0 and len(json.loads(goals.stdout)) == 1
    # --name=value works too, and the shared options may sit between the command's own.
    r = hive("--json", "submit", "--exec", "/bin/echo", "eq", "--honeycomb=" + url, "--count=1", "--wait", timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["tasks"][0]["output"] == "eq\n"


def test_submit_wait_names_the_goal_at_once_and_ctrl_c_leaves_it_running(procs, tmp_path):
    import select, signal
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    hc = procs.start([HONEYCOMBD, "--listen", f"127.0.0.1:{port}", "--http", "off"])
    wait_for_log(hc, "event=bus_connected")
    d = procs.start([DRONE, "--honeycomb", url, "--name", "d0", "--allow-exec", "/bin/sleep"])
    wait_for_log(d, "event=joined")
    waiter = procs.start([HIVE, "submit", "--exec", "/bin/sleep", "60", "--wait", "--honeycomb", url])
    first = wait_for_log(waiter, "submitted; waiting for it to end", timeout=15)[-1]
    goal = first.split("goal ")[1].split(" ")[0]
    assert f"(Ctrl-C stops waiting; the goal goes on: hive watch {goal}, hive cancel {goal})" in first
    waiter.send_signal(signal.SIGINT)
    assert waiter.wait(timeout=10) == 130
    assert f"stopped waiting; goal {goal} goes on: hive watch {goal} to follow it, hive cancel {goal} to stop it" in waiter.stderr.read()
    r = hive("goal", goal, "--json", "--honeycomb", url)
    assert json.loads(r.stdout)["state"] not in ("cancelled", "failed", "succeeded")
    # watch into a pipe: each line as it happens, not all at the end.
    watcher = procs.start([HIVE, "watch", goal, "--honeycomb", url])
    ready, _, _ = select.select([watcher.stdout], [], [], 15)
    assert ready, "watch printed nothing while the goal ran (block-buffered?)"
    assert goal in watcher.stdout.readline()
    assert hive("cancel", goal, "--honeycomb", url).returncode == 0
    assert watcher.wait(timeout=15) == 1
    assert f"goal {goal} cancelled" in watcher.stdout.read()


def test_watch_on_a_terminal_redraws_only_on_change(procs):
    import os, pty, select, time
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    hc = procs.start([HONEYCOMBD, "--listen", f"127.0.0.1:{port}", "--http", "off"])
    wait_for_log(hc, "event=bus_connected")
    d = procs.start([DRONE, "--honeycomb", url, "--name", "d0", "--allow-exec", "/bin/sleep"])
    wait_for_log(d, "event=joined")
    goal = hive("submit", "--exec", "/bin/sleep", "60", "--honeycomb", url).stdout.strip()
    leader, follower = pty.openpty()
    watcher = subprocess.Popen([HIVE, "watch", goal, "--honeycomb", url], stdout=follower, stderr=subprocess.DEVNULL)
    procs.procs.append(watcher)  # stopped at teardown if a check fails
    os.close(follower)
    seen = b""

    def read_for(seconds):
        nonlocal seen
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if select.select([leader], [], [], left)[0]:
                seen += os.read(leader, 65536)

    # Until the task is drawn running; then the screen stays as it is while nothing changes (it polls twice a
    # second: the old watch cleared and redrew on every poll).
    deadline = time.monotonic() + 15
    while b"running d0" not in seen and time.monotonic() < deadline:
        read_for(0.2)
    assert b"running d0" in seen, seen
    frames = seen.count(b"\x1b[2J")
    read_for(2.0)
    assert seen.count(b"\x1b[2J") == frames, "redrawn with nothing changed"
    assert hive("cancel", goal, "--honeycomb", url).returncode == 0
    assert watcher.wait(timeout=15) == 1
    os.close(leader)
