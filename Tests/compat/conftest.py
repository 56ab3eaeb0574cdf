"""Fixtures for the nats-py compatibility suite.

Every test that uses the ``server`` or ``server_factory`` fixture runs once
against honeycombd and once against the reference nats-server, so any
divergence between the two shows up as a test that fails for one parameter
only.

Environment:
  HONEYCOMBD   path to the honeycombd binary
               (default: <repo>/.build/debug/honeycombd)
  NATS_SERVER  path to the reference nats-server (default: ``nats-server`` on PATH)
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "Tests"))
from dependencies import require_python_packages, require_tool  # noqa: E402  (Tests/)
DEFAULT_HONEYCOMBD = REPO_ROOT / ".build" / "debug" / "honeycombd"

SERVER_KINDS = ["honeycombd", "nats-server"]
READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


def pytest_configure(config):
    require_python_packages()


@functools.cache
def nats_server_binary() -> str:
    """The reference nats-server: $NATS_SERVER, else the one on PATH (looked up once per run)."""
    return os.environ.get("NATS_SERVER") or require_tool("nats-server", package="nats-server")


@dataclasses.dataclass
class RunningServer:
    kind: str
    host: str
    port: int
    proc: subprocess.Popen
    log_path: Path
    token: Optional[str] = None
    user: Optional[str] = None
    password: Optional[str] = None
    max_payload: Optional[int] = None
    tls: bool = False

    @property
    def url(self) -> str:
        return f"{'tls' if self.tls else 'nats'}://{self.host}:{self.port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        return self.proc.returncode


def wait_until(what: str, probe, timeout: float = READY_TIMEOUT_S):
    """Polls probe() until it returns something truthy (returned), failing with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


LISTENING = re.compile(rb"event=listening addr=\S*:(\d+)\b")


def _bound_port(kind: str, proc: subprocess.Popen, log_path: Path, ports_file: Path) -> int:
    """The port a server started on port 0 bound, as it reports it: honeycombd in its ``event=listening`` log
    line, nats-server (``-p -1``) in the ports file it writes once it listens (``--ports_file_dir``)."""

    def reported() -> Optional[int]:
        rc = proc.poll()
        if rc is not None:
            raise RuntimeError(f"{kind} exited with status {rc} before listening\n--- log ---\n"
                               f"{log_path.read_text(errors='replace')}")
        if kind == "honeycombd":
            found = LISTENING.search(log_path.read_bytes())
            return int(found.group(1)) if found else None
        try:
            return int(json.loads(ports_file.read_text())["nats"][0].rsplit(":", 1)[1])
        except (OSError, ValueError, KeyError, IndexError):  # not written yet, or half written
            return None

    try:
        return wait_until(f"{kind} to report the port it listens on", reported)
    except RuntimeError:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)
        raise


class ServerFactory:
    """Starts servers of one kind with options; stops them all on teardown."""

    def __init__(self, kind: str, workdir: Path):
        self.kind = kind
        self.workdir = workdir
        self.servers: list[RunningServer] = []

    def start(
        self,
        *,
        token: Optional[str] = None,
        user: Optional[str] = None,
        password: Optional[str] = None,
        max_payload: Optional[int] = None,
        principals: Optional[list] = None,
        tls: Optional["TLSCerts"] = None,
        tls_verify: bool = False,
    ) -> RunningServer:
        """``principals``: honeycombd's config entries (user/pass ones, with explicit ``permissions``); the
        nats-server gets the same users and permissions written as its own authorization block.
        ``tls``: serve TLS with these files (both kinds get the same certificate); ``tls_verify``: require client
        certificates signed by its CA (mutual TLS)."""
        host = "127.0.0.1"
        n = len(self.servers)
        log_path = self.workdir / f"{self.kind}-{n}.log"

        ports_dir = self.workdir / f"{self.kind}-{n}.ports"
        if self.kind == "honeycombd":
            binary = os.environ.get("HONEYCOMBD", str(DEFAULT_HONEYCOMBD))
            if not Path(binary).exists():
                pytest.fail(f"honeycombd binary not found at {binary} (set HONEYCOMBD)")
            # Port 0, and info level: the kernel picks the port and the `listening` line reports it.
            cmd = [binary, "--listen", f"{host}:0", "--log-level", "info"]
            if token is not None:
                cmd += ["--token", token]
            if user is not None:
                cmd += ["--user", user, "--pass", password or ""]
            if max_payload is not None:
                cmd += ["--max-payload", str(max_payload)]
            if principals is not None:
                cfg = self.workdir / f"honeycombd-{n}.json"
                cfg.write_text(json.dumps({"principals": principals}))
                cmd += ["--config", str(cfg), "--http", "off"]
            if tls is not None:
                cmd += ["--tls-cert", str(tls.cert), "--tls-key", str(tls.key)]
                if tls_verify:
                    cmd += ["--tls-ca", str(tls.ca), "--tls-verify"]
                if principals is None:
                    cmd += ["--http", "off"]
        elif self.kind == "nats-server":
            binary = nats_server_binary()
            ports_dir.mkdir()
            cmd = [binary, "-a", host, "-p", "-1", "--ports_file_dir", str(ports_dir)]
            cmd += ["-DV"] if os.environ.get("NS_DEBUG") else []
            if token is not None:
                cmd += ["--auth", token]
            if user is not None:
                cmd += ["--user", user, "--pass", password or ""]
            if tls is not None:
                cmd += ["--tls", "--tlscert", str(tls.cert), "--tlskey", str(tls.key)]
                if tls_verify:
                    cmd += ["--tlsverify", "--tlscacert", str(tls.ca)]
            conf_text = ""
            if max_payload is not None:
                conf_text += f"max_payload: {max_payload}\n"
            if principals is not None:
                conf_text += nats_server_authorization(principals)
            if conf_text:
                conf = self.workdir / f"nats-server-{n}.conf"
                conf.write_text(conf_text)
                cmd += ["-c", str(conf)]
        else:  # pragma: no cover
            raise ValueError(self.kind)

        with open(log_path, "wb") as log_file:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            port = _bound_port(self.kind, proc, log_path, ports_dir / f"nats-server_{proc.pid}.ports")
        except RuntimeError as e:
            pytest.fail(str(e))
        srv = RunningServer(
            kind=self.kind,
            host=host,
            port=port,
            proc=proc,
            log_path=log_path,
            token=token,
            user=user,
            password=password,
            max_payload=max_payload,
            tls=tls is not None,
        )
        self.servers.append(srv)
        return srv

    def stop_all(self) -> list[tuple[RunningServer, Optional[int]]]:
        results = []
        for srv in self.servers:
            results.append((srv, srv.stop()))
        return results


def nats_server_authorization(principals: list) -> str:
    """honeycombd principal entries as nats-server's ``authorization { users = [...] }`` (written here, not by
    honeycombd, so the reference is configured independently of the code under test)."""
    users = []
    for p in principals:
        perms = dict(p.get("permissions", {}))
        resp = perms.pop("allow_responses", None)
        if isinstance(resp, dict):
            resp = {"max": resp.get("max", 1), "expires": f"{resp.get('expires_ms', 120000)}ms"}
        if resp is not None:
            perms["allow_responses"] = resp
        users.append({"user": p["user"], "password": p["pass"], "permissions": perms})
    return "authorization { users = " + json.dumps(users) + " }\n"


@dataclasses.dataclass
class TLSCerts:
    """A private CA, a server certificate for localhost/127.0.0.1 and a client certificate named ``d1``, made by
    ``honeycombd tls init`` / ``honeycombd tls client`` (what an operator runs)."""

    dir: Path
    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path


def make_tls_certs(directory: Path) -> TLSCerts:
    binary = os.environ.get("HONEYCOMBD", str(DEFAULT_HONEYCOMBD))
    if not Path(binary).exists():
        pytest.fail(f"honeycombd binary not found at {binary} (set HONEYCOMBD); it makes the test certificates")
    for args in (["tls", "init", str(directory), "--host", "localhost"], ["tls", "client", str(directory), "d1"]):
        done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            pytest.fail(f"honeycombd {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return TLSCerts(dir=directory, ca=directory / "ca.pem", cert=directory / "server.pem",
                    key=directory / "server-key.pem", client_cert=directory / "d1.pem",
                    client_key=directory / "d1-key.pem")


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory) -> TLSCerts:
    return make_tls_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def other_ca(tmp_path_factory) -> TLSCerts:
    """Another private CA: a client that trusts only this one must refuse both servers."""
    return make_tls_certs(tmp_path_factory.mktemp("tls-other"))


@pytest.fixture(params=SERVER_KINDS)
def server_kind(request) -> str:
    return request.param


@pytest.fixture
def server_factory(server_kind):
    workdir = Path(tempfile.mkdtemp(prefix=f"compat-{server_kind}-"))
    factory = ServerFactory(server_kind, workdir)
    try:
        yield factory
    finally:
        for srv, rc in factory.stop_all():
            print(f"--- {srv.kind} on port {srv.port} exited {rc} ---\n{srv.log()}")
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def server(server_factory) -> RunningServer:
    """A server of the parametrized kind with default options."""
    return server_factory.start()


async def sync(nc, timeout: float = 5.0) -> None:
    """Round trip to the server after everything already queued on ``nc``.

    nats-py 2.16's ``flush()`` writes its PING straight onto the socket, ahead
    of SUB/PUB/UNSUB commands still waiting in the client's pending buffer for
    the flusher task, so the PONG alone does not prove the server has seen
    them (observed with nats-server: SUB arriving after the flush's PING).
    Drain the pending buffer through the flusher first, then PING.
    """
    flush_pending = getattr(nc, "_flush_pending", None)
    if flush_pending is not None:
        await flush_pending(force_flush=True)
    await nc.flush(timeout=timeout)
