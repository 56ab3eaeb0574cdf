import os, signal, socket, subprocess, sys, time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dependencies import require_file, require_python_module, require_python_packages, require_tool  # noqa: E402  (Tests/)

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
HONEYCOMBD = os.environ.get("HONEYCOMBD", os.path.join(ROOT, ".build", "debug", "honeycombd"))
HIVE = os.environ.get("HIVE", os.path.join(ROOT, ".build", "debug", "hive"))
DRONE = os.environ.get("DRONE", os.path.join(ROOT, ".build", "debug", "drone"))


def pytest_configure(config):
    require_python_packages()


def nats_server():
    """The reference nats-server's path; fails the test naming the package when it is not installed."""
    return require_tool("nats-server", package="nats-server")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listening on {port}")


class Procs:
    """Processes a test started; all stopped at teardown."""

    def __init__(self):
        self.procs = []

    def start(self, args, port=None, **kw):
        kw.setdefault("env", None)
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
        self.procs.append(p)
        if port:
            wait_listening(port, p)
        return p

    def nats_server(self, port=None, extra=()):
        port = port or free_port()
        self.start([nats_server(), "-a", "127.0.0.1", "-p", str(port), *extra], port=port)
        return port

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()


@pytest.fixture
def procs():
    ps = Procs()
    yield ps
    ps.stop_all()


def wait_for_log(proc, fragment, timeout=10.0):
    """Reads proc's stderr line by line until `fragment` appears (the readiness event); returns the lines."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if fragment in line:
            return lines
    raise AssertionError(f"'{fragment}' not logged; got {lines}")


def hive(*args, env=None, timeout=15):
    e = dict(os.environ)
    e.pop("HIVE_URL", None)
    e.update(env or {})
    return subprocess.run([HIVE, *args], capture_output=True, text=True, timeout=timeout, env=e)
