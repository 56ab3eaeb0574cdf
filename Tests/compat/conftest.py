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
import json
import os
import shutil
import signal
import socket
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


def free_port() -> int:
    """Bind port 0 on loopback, read the port the kernel chose, release it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def _wait_ready(srv: RunningServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    last_err: Optional[Exception] = None
    while time.monotonic() < deadline:
        rc = srv.proc.poll()
        if rc is not None:
            raise RuntimeError(
                f"{srv.kind} exited with status {rc} before accepting connections "
                f"on {srv.host}:{srv.port}\n--- log ---\n{srv.log()}"
            )
        try:
            with socket.create_connection((srv.host, srv.port), timeout=0.5):
                return
        except OSError as e:
            last_err = e
            time.sleep(0.02)
    srv.stop()
    raise RuntimeError(
        f"{srv.kind} did not accept connections on {srv.host}:{srv.port} within "
        f"{READY_TIMEOUT_S}s (last error: {last_err})\n--- log ---\n{srv.log()}"
    )


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

        # A port picked by binding 0 can, rarely, be taken by someone else
        # before the server binds it; retry a couple of times in that case.
        last_error: Optional[Exception] = None
        for _attempt in range(3):
            port = free_port()
            if self.kind == "honeycombd":
                binary = os.environ.get("HONEYCOMBD", str(DEFAULT_HONEYCOMBD))
                if not Path(binary).exists():
                    pytest.fail(f"honeycombd binary not found at {binary} (set HONEYCOMBD)")
                cmd = [binary, "--listen", f"{host}:{port}", "--log-level", "warn"]
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
                binary = os.environ.get("NATS_SERVER") or require_tool("nats-server", package="nats-server")
                cmd = [binary, "-a", host, "-p", str(port)] + (["-DV"] if os.environ.get("NS_DEBUG") else [])
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

            log_file = open(log_path, "wb")
            try:
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                )
            finally:
                log_file.close()
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
            try:
                _wait_ready(srv)
                return srv
            except RuntimeError as e:
                last_error = e
                srv.stop()
                if "address already in use" not in srv.log().lower():
                    break
        pytest.fail(str(last_error))

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
