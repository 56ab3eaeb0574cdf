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
