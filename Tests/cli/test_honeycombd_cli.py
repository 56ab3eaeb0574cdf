"""honeycombd as a user runs it: flags, config errors, exit codes, clean shutdown on SIGTERM/SIGINT."""
import json, os, signal, socket, subprocess, sys, time

import pytest

from conftest import HONEYCOMBD as BIN, log_field


def run(*args, timeout=10):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout)


def start(*args):
    """Starts honeycombd and returns once its 'listening' line has been logged (the readiness event)."""
    proc = subprocess.Popen([BIN, *args], stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    if "event=prompts_loaded" in line:  # the prompt frames are read before the broker starts
        line = proc.stderr.readline()
    if "event=listening" not in line:
        proc.kill()  # a failed start must not leave a daemon behind
        proc.wait()
        raise AssertionError(line)
    return proc, line


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shuts_down_cleanly_on_signal(sig):
    proc, line = start("--listen", "127.0.0.1:0")
    # Port 0: the kernel picks a free port and the listening line reports the one bound.
    host, port = log_field([line], "listening", "addr").rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    port = int(port)
    with socket.create_connection(("127.0.0.1", port)) as c:
        assert c.recv(4096).startswith(b"INFO {")
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
        # The connection is closed by the shutdown, not left dangling.
        c.settimeout(5)
        assert c.recv(4096) == b""
    rest = proc.stderr.read()
    assert "event=shutting_down" in rest and "event=stopped" in rest


def test_config_file_is_used_and_flags_override_it(tmp_path):
    cfg = tmp_path / "hc.json"
    cfg.write_text(json.dumps({"listen": "127.0.0.1:1", "max_payload": 2048, "auth": {"token": "t0k"}}))
    proc, line = start("--config", str(cfg), "--listen", "127.0.0.1:0")
    try:
        port = int(log_field([line], "listening", "addr").rsplit(":", 1)[1])
        assert port not in (0, 1) and "max_payload=2048" in line and "auth=required" in line
        with socket.create_connection(("127.0.0.1", port)) as c:
            info = c.recv(4096)
            assert b'"max_payload":2048' in info and b'"auth_required":true' in info
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


@pytest.mark.parametrize("args,code,fragment", [
    (["--bogus"], 64, "unknown option '--bogus'"),
    (["--listen"], 64, "needs a value"),
    (["--listen", "nowhere"], 78, "not HOST:PORT"),
    (["--max-payload", "0"], 78, "max_payload must be between"),
    (["--config", "/nonexistent/hc.json"], 78, "cannot read config file /nonexistent/hc.json"),
    (["--log-level", "chatty"], 78, "not one of debug, info, warn, error"),
])
def test_bad_invocations_exit_with_a_clear_message(args, code, fragment):
    r = run(*args)
    assert r.returncode == code
    assert fragment in r.stderr


def test_bad_config_file_names_the_problem(tmp_path):
    cfg = tmp_path / "bad.json"
    cfg.write_text('{"listen": "127.0.0.1:4222", "max_paylod": 10}')
    r = run("--config", str(cfg))
    assert r.returncode == 78
    assert "unknown key 'max_paylod'" in r.stderr


def test_port_in_use_fails_to_start_with_the_reason():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = run("--listen", f"127.0.0.1:{port}")
    assert r.returncode == 1
    assert "start_failed" in r.stderr and "Address already in use" in r.stderr


def test_help_prints_usage():
    r = run("--help")
    assert r.returncode == 0
    assert "usage: honeycombd" in r.stdout
