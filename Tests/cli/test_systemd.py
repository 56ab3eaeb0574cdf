"""The shipped systemd units pass `systemd-analyze verify` (syntax, known directives, hardening options this
systemd understands), pointed at the binaries under test."""
import os, pathlib, subprocess

import pytest

from conftest import DRONE, HONEYCOMBD, require_tool

UNITS = pathlib.Path(__file__).resolve().parents[2] / "Config" / "systemd"


@pytest.mark.parametrize("unit,instance", [("honeycombd.service", "honeycombd.service"), ("drone@.service", "drone@lab.service")])
def test_units_verify(tmp_path, unit, instance):
    text = (UNITS / unit).read_text()
    assert "/usr/local/bin/" in text
    env = tmp_path / "lab.env"
    env.write_text("DRONE_OPTIONS=--tier worker\n")
    text = (text.replace("/usr/local/bin/honeycombd", os.path.abspath(HONEYCOMBD))
                .replace("/usr/local/bin/drone", os.path.abspath(DRONE))
                .replace("/etc/hive/drone/%i.env", str(env)))
    path = tmp_path / instance
    path.write_text(text)
    r = subprocess.run([require_tool("systemd-analyze", package="systemd"), "verify", "--man=no", str(path)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    for directive in ("NoNewPrivileges=yes", "ProtectSystem=strict", "DynamicUser=yes", "Restart="):
        assert directive in text


def service_directives(unit):
    """The [Service] section of a unit as {directive: [values]}."""
    out, section = {}, None
    for line in (UNITS / unit).read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def test_honeycombd_unit_restarts_a_leader_that_stepped_down_with_exit_75():
    """A deposed leader exits 75 (Tests/cli/test_standby.py) for systemd to restart it as a standby: the unit must
    restart on 75 whatever its Restart= policy, and the docs must say what the unit does."""
    d = service_directives("honeycombd.service")
    assert "75" in " ".join(d.get("RestartForceExitStatus", [])).split(), d
    assert d.get("Restart") in (["on-failure"], ["always"]), d
    assert "75" not in " ".join(d.get("RestartPreventExitStatus", [])).split(), d
    docs = pathlib.Path(__file__).resolve().parents[2] / "Docs"
    for doc in ("OPERATIONS.md", "ARCHITECTURE.md"):
        assert "RestartForceExitStatus=75" in (docs / doc).read_text(), f"{doc} does not say how a step-down is restarted"
