import atexit, functools, hashlib, http.server, json, os, pathlib, re, shutil, signal, socket, subprocess, sys, tempfile, threading, time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dependencies import require_file, require_python_module, require_python_packages, require_tool  # noqa: E402  (Tests/)

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
HONEYCOMBD = os.environ.get("HONEYCOMBD", os.path.join(ROOT, ".build", "debug", "honeycombd"))
HIVE = os.environ.get("HIVE", os.path.join(ROOT, ".build", "debug", "hive"))
DRONE = os.environ.get("DRONE", os.path.join(ROOT, ".build", "debug", "drone"))
MAKE_TEST_MODEL = os.path.join(ROOT, "Tests", "models", "make_test_model.py")


def pytest_configure(config):
    require_python_packages()


@functools.cache
def nats_server():
    """The reference nats-server's path (looked up once per run); fails the test naming the package when it is not
    installed."""
    return require_tool("nats-server", package="nats-server")


def free_port():
    """A port nothing listens on at this moment. Only for ports that must be chosen before a process starts: a
    cluster's route ports (each server names the others' on its command line), a bus that comes up after its
    client was told where, or a port a test needs closed. Our own servers bind port 0 and report the port they got
    (`start_honeycombd`, `Procs.nats_server`): picking a free port and binding it later races other processes."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, probe, timeout=30.0, interval=0.02):
    """Polls probe() until it returns something truthy (returned), failing with `what` at the deadline: the way a
    test waits for a state (never a sleep that hopes the state has come)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def wait_listening(port, proc, timeout=10.0):
    """Waits until something accepts connections on 127.0.0.1:`port` (for servers that do not report their port)."""
    def accepting():
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False
    wait_until(f"a server accepting connections on 127.0.0.1:{port}", accepting, timeout)


class Procs:
    """Processes a test started; all stopped at teardown."""

    def __init__(self):
        self.procs = []
        self.scratch = tempfile.mkdtemp(prefix="hive-procs-")

    def start(self, args, port=None, **kw):
        """Starts `args` with stdout and stderr piped; with `port`, returns once something accepts connections there
        (for servers that cannot report a port of their own choosing)."""
        kw.setdefault("env", None)
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
        self.procs.append(p)
        if port:
            wait_listening(port, p)
        return p

    def nats_server(self, port=None, extra=()):
        """A reference nats-server on 127.0.0.1; returns its client port. Without `port` it binds a port of its own
        choosing (`-p -1`) and reports it in a ports file (`--ports_file_dir`), written once it listens."""
        if port:
            self.start([nats_server(), "-a", "127.0.0.1", "-p", str(port), *extra], port=port)
            return port
        ports_dir = tempfile.mkdtemp(dir=self.scratch)
        p = self.start([nats_server(), "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", ports_dir, *extra])
        return nats_server_port(p, os.path.join(ports_dir, f"nats-server_{p.pid}.ports"))

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)


def nats_server_port(proc, ports_file, timeout=10.0):
    """The client port in a nats-server ports file (`{"nats": ["nats://127.0.0.1:PORT"]}`; `tls://` with TLS)."""
    def port():
        if proc.poll() is not None:
            raise AssertionError(f"nats-server exited with {proc.returncode} before listening: {proc.stderr.read()}")
        try:
            with open(ports_file) as f:
                urls = json.load(f)["nats"]
        except (OSError, ValueError, KeyError):  # not written yet, or half written
            return None
        return int(urls[0].rsplit(":", 1)[1])
    return wait_until(f"nats-server's ports file {ports_file}", port, timeout)


@pytest.fixture
def procs():
    ps = Procs()
    yield ps
    ps.stop_all()


def wait_for_log(proc, fragment, timeout=10.0):
    """Reads proc's stderr line by line until `fragment` appears (the readiness event); returns the lines read.
    Fails naming the fragment at the deadline even when the process stays silent (each line is read on a helper
    thread; after a failure that thread may still take the process's next line, which nothing reads any more)."""
    lines = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        line = readline_within(proc.stderr, left)
        if not line:  # nothing within the deadline, or the end of the stream
            break
        lines.append(line)
        if fragment in line:
            return lines
    raise AssertionError(f"'{fragment}' not logged within {timeout} s; got {lines}")


def readline_within(stream, seconds):
    """stream.readline(), or None when no whole line comes within `seconds`."""
    got = []
    reader = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(seconds)
    return got[0] if got else None


def log_field(lines, event, key):
    """The value of `key` on the first `event=EVENT` line of `lines` (HiveLog's key=value format), or None."""
    for line in lines:
        fields = dict(log_pairs(line))
        if fields.get("event") == event and key in fields:
            return fields[key]
    return None


LOG_PAIR = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)')


def log_pairs(line):
    """(key, value) pairs of one HiveLog line; a value with spaces, quotes or `=` comes double-quoted."""
    for key, value in LOG_PAIR.findall(line):
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"').replace("\\n", "\n")
        yield key, value


def start_honeycombd(procs, *args, http=False, ready=None, timeout=10.0, **kw):
    """honeycombd with its broker on port 0 (unless `args` name `--listen` or `--nats`) and, with `http`, its HTTP
    API on port 0 too (`http=False` turns HTTP off; None leaves it to `args` or the config). Returns once `ready` is
    logged (`event=http_listening` with `http`, else `event=bus_connected`), with the ports it reported in its
    startup lines: `.port`/`.url` (the broker; None on an external bus), `.http_port`/`.http_url`, `.startup_log`."""
    args = list(args)
    if "--listen" not in args and "--nats" not in args:
        args = ["--listen", "127.0.0.1:0", *args]
    if http is True:
        args += ["--http", "127.0.0.1:0"]
    elif http is False:
        args += ["--http", "off"]
    hc = procs.start([os.path.abspath(HONEYCOMBD), *args], **kw)
    lines = wait_for_log(hc, ready or ("event=http_listening" if http else "event=bus_connected"), timeout)
    hc.startup_log = "".join(lines)
    addr = log_field(lines, "listening", "addr")
    hc.port = int(addr.rsplit(":", 1)[1]) if addr else None
    hc.url = f"nats://127.0.0.1:{hc.port}" if addr else None
    http_addr = log_field(lines, "http_listening", "address")
    hc.http_port = int(http_addr.rsplit(":", 1)[1]) if http_addr else None
    hc.http_url = log_field(lines, "http_listening", "url")
    if hc.http_url:
        hc.http_url = hc.http_url.rstrip("/")
    return hc


def make_test_model(name="tiny", *args):
    """A GGUF from Tests/models/make_test_model.py (`args` are its options), generated once per version of the
    script: cached under ~/.cache/hive/test-models/<script hash>/ (HIVE_TEST_MODELS overrides), which both pytest
    runs and every rerun share. Written to a temporary name and renamed, so a concurrent run never reads half."""
    with open(MAKE_TEST_MODEL, "rb") as f:
        key = hashlib.sha256(f.read() + repr(args).encode()).hexdigest()[:16]
    root = os.environ.get("HIVE_TEST_MODELS", os.path.expanduser("~/.cache/hive/test-models"))
    path = os.path.join(root, key, f"{name}.gguf")
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial = f"{path}.{os.getpid()}.partial"
        done = subprocess.run([sys.executable, MAKE_TEST_MODEL, partial, *args], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"{MAKE_TEST_MODEL} failed ({done.returncode}): {done.stderr}", pytrace=False)
        os.replace(partial, path)
    return path


@pytest.fixture(scope="session")
def tiny_model():
    """The tiny chat test model (ChatML template, random weights), shared by every test of the run."""
    return make_test_model("tiny")


@pytest.fixture(scope="session")
def tiny_base_model():
    """The tiny test model without a chat template (drones prompt it as a completion model)."""
    return make_test_model("base", "--base")


_PKI = {}


def pki_copy(directory, host="localhost"):
    """A private CA and a server certificate for `host`, 127.0.0.1 and ::1 (`honeycombd tls init DIR --host HOST`,
    what an operator runs), made once per run and copied into `directory` for each test, which may add client
    certificates (`honeycombd tls client`) or re-issue the server's without disturbing another test. Returns the
    directory (ca.pem, ca-key.pem, server.pem, server-key.pem)."""
    if host not in _PKI:
        made = os.path.join(tempfile.mkdtemp(prefix="hive-pki-"), "pki")
        r = subprocess.run([HONEYCOMBD, "tls", "init", made, "--host", host], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            pytest.fail(f"honeycombd tls init failed ({r.returncode}): {r.stderr}", pytrace=False)
        atexit.register(shutil.rmtree, os.path.dirname(made), True)
        _PKI[host] = made
    shutil.copytree(_PKI[host], directory)
    return pathlib.Path(directory)


def hive(*args, env=None, timeout=15):
    e = dict(os.environ)
    e.pop("HIVE_URL", None)
    e.update(env or {})
    return subprocess.run([HIVE, *args], capture_output=True, text=True, timeout=timeout, env=e)


class JSONPostServer(http.server.ThreadingHTTPServer):
    """A test double's HTTP side (a model provider's API): each POST's JSON body goes to `respond(path, headers,
    body)`, which returns (status, headers, payload); the payload goes back as JSON. Serves on 127.0.0.1, port 0,
    from a daemon thread. Header names reach `respond` lower-cased (they are case-insensitive)."""

    def __init__(self):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, reply_headers, payload = outer.respond(self.path, headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in reply_headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def respond(self, path, headers, body):
        raise NotImplementedError

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"
