"""What the drones are told: a plain NATS subscriber on every drone's assignment subject (`hive.v1.drone.*.task`)
that keeps each assignment's JSON, so a benchmark or test can check what really reached a model drone (its
prompt, temperature, seed, stop strings), not what the client asked for. Works on a broker without principals
(loopback benchmarks and tests)."""
import json, socket, threading


class TaskTap:
    def __init__(self, port, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.lock = threading.Lock()
        self.assignments = []
        self._buf = b""
        self._read_line()  # INFO
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\nSUB hive.v1.drone.*.task 1\r\nPING\r\n')
        while self._read_line() != b"PONG":
            pass
        self.sock.settimeout(None)
        threading.Thread(target=self._run, daemon=True).start()

    def _read_line(self):
        while b"\r\n" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the broker closed the tap's connection")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\r\n", 1)
        return line

    def _read_exact(self, n):
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the broker closed the tap's connection")
            self._buf += chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def _run(self):
        try:
            while True:
                line = self._read_line()
                if line.startswith(b"PING"):
                    self.sock.sendall(b"PONG\r\n")
                elif line.startswith(b"MSG ") or line.startswith(b"HMSG "):
                    parts = line.split()
                    size = int(parts[-1])
                    headers = int(parts[-2]) if line.startswith(b"HMSG ") else 0  # traceparent travels as a header
                    payload = self._read_exact(size + 2)[headers:size]
                    try:
                        a = json.loads(payload)
                    except ValueError:
                        continue
                    with self.lock:
                        # A drone that asked for lists in its hello gets several assignments in one message.
                        self.assignments.extend(a if isinstance(a, list) else [a])
        except (EOFError, OSError):
            return

    def for_goals(self, goals, kind="model"):
        """The assignments of `kind` made for these goals."""
        goals = set(goals)
        with self.lock:
            return [a for a in self.assignments if a.get("goal") in goals and a.get("kind") == kind]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
