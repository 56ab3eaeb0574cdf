"""Tracing end to end: a W3C traceparent starts at submission (the submitter's, or a new one), travels in NATS
headers with every assignment to the drone and back with every result (seen here by nats-py, a client nobody
here wrote), `hive trace` shows the span tree, and finished goals' traces go to an OTLP/HTTP collector (a test
double here: an HTTP endpoint that keeps what it is sent; the JSON is checked against the OTLP protobuf schema
with PyPI opentelemetry-proto)."""
import asyncio, base64, copy, http.server, json, re, threading

import nats
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from conftest import hive, wait_until
from test_control_plane import start_drones, start_honeycombd, submit_wait
from test_http import JSON, request

CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"
SLEEPS = {"name": "traced", "root": {"kind": "fork", "join": "all", "children": [
    {"kind": "exec", "input": {"command": "/bin/sleep", "args": [s]}} for s in ("0.1", "0.2")]}}


class Collector(http.server.BaseHTTPRequestHandler):
    """Keeps every OTLP request body (the stand-in for an OpenTelemetry collector)."""
    received = []
    arrived = threading.Event()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Collector.received.append((self.path, self.headers.get("Content-Type"), json.loads(body)))
        Collector.arrived.set()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def check_tree(spans, trace_id):
    ids = {s["span_id"]: s for s in spans}
    assert len(ids) == len(spans), "span IDs repeat"
    goal = [s for s in spans if s["kind"] == "goal"]
    assert len(goal) == 1
    for s in spans:
        assert re.fullmatch(r"[0-9a-f]{16}", s["span_id"])
        if s["kind"] != "goal":
            assert s["parent_span_id"] in ids, s  # every other span hangs off the tree
        if s.get("end_unix_nano"):
            assert s["end_unix_nano"] >= s["start_unix_nano"]
    runs = [s for s in spans if s["kind"] == "run"]
    attempts = [s for s in spans if s["kind"] == "attempt"]
    assert len(attempts) == len(runs) == 2
    assert {ids[r["parent_span_id"]]["kind"] for r in runs} == {"attempt"}
    return goal[0]


def test_a_submitters_traceparent_carries_through_tasks_and_drones(procs, tmp_path):
    hc = start_honeycombd(procs, tmp_path, extra={"http": "127.0.0.1:0"})
    url, http_port = hc.url, hc.http_port
    start_drones(procs, url, 2, slots=1)
    seen = {"assign": [], "result": []}

    async def watch(ready, done):
        nc = await nats.connect(url)
        # A message is one entry (its trace parent in the header) or a list of them, each with its own (DroneBatch).
        def entries(m):
            body = json.loads(m.data)
            return [(e, e.get("traceparent")) for e in body] if isinstance(body, list) else [(body, (m.headers or {}).get("traceparent") or body.get("traceparent"))]
        async def on_assign(m):
            seen["assign"] += [(m.subject, tp) for _, tp in entries(m)]
        async def on_result(m):
            seen["result"] += entries(m)
        await nc.subscribe("hive.v1.drone.*.task", cb=on_assign)
        await nc.subscribe("hive.v1.drone.*.result", cb=on_result)
        await nc.flush()
        ready.set()
        while not done.is_set():
            await asyncio.sleep(0.05)
        await nc.drain()

    ready, done = threading.Event(), threading.Event()
    watcher = threading.Thread(target=lambda: asyncio.run(watch(ready, done)))
    watcher.start()
    assert ready.wait(10), "the watcher subscribed"
    try:
        status, _, body = request(http_port, "POST", "/api/goals", SLEEPS,
                                  {**JSON, "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
        assert status == 201, body
        goal = body["goal"]
        code, r = submit_wait(url, "--exec", "/bin/echo", "x")  # one more goal, on a trace of its own
        assert code == 0
        wait_until(f"goal {goal} to end", lambda: json.loads(
            hive("result", goal, "--json", "--honeycomb", url).stdout)["goal"]["state"] != "running")
    finally:
        done.set()
        watcher.join(10)

    _, _, trace = request(http_port, "GET", f"/api/goals/{goal}/trace")
    assert trace["trace_id"] == CLIENT_TRACE
    root = check_tree(trace["spans"], CLIENT_TRACE)
    assert root["parent_span_id"] == CLIENT_SPAN  # the goal is a child of the submitter's span
    # On the wire: each assignment of this goal named its attempt's span; each result named the drone's run span.
    attempt_spans = {s["span_id"] for s in trace["spans"] if s["kind"] == "attempt"}
    run_spans = {s["span_id"] for s in trace["spans"] if s["kind"] == "run"}
    sent = [tp for _, tp in seen["assign"] if tp and tp.split("-")[1] == CLIENT_TRACE]
    assert {tp.split("-")[2] for tp in sent} == attempt_spans
    back = [tp for res, tp in seen["result"] if tp and tp.split("-")[1] == CLIENT_TRACE]
    assert {tp.split("-")[2] for tp in back} == run_spans
    assert all(tp.startswith("00-") and tp.endswith("-01") for tp in sent + back)
    # Every assignment carried a traceparent; the other goal's is another trace.
    assert all(tp for _, tp in seen["assign"]) and len({tp.split("-")[1] for _, tp in seen["assign"]}) == 2
    # hive trace draws the tree.
    text = hive("trace", goal, "--honeycomb", url).stdout
    assert text.startswith(f"trace {CLIENT_TRACE} · goal {goal}")
    assert "goal traced" in text and text.count("attempt 1 @") == 2 and text.count("exec on d") == 2


def test_finished_goals_traces_are_exported_as_otlp_json(procs, tmp_path):
    Collector.received.clear()
    Collector.arrived.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = start_honeycombd(procs, tmp_path, extra={
            "otlp_endpoint": f"http://127.0.0.1:{server.server_port}/v1/traces"}).url
        start_drones(procs, url, 2, slots=1)
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps(SLEEPS))
        code, r = submit_wait(url, str(plan))
        assert code == 0
        assert Collector.arrived.wait(10)
    finally:
        server.shutdown()
    path, content_type, body = Collector.received[0]
    assert path == "/v1/traces" and content_type == "application/json"
    services = [[a["value"]["stringValue"] for a in rs["resource"]["attributes"] if a["key"] == "service.name"][0]
                for rs in body["resourceSpans"]]
    assert services[0] == "honeycombd" and services[1:] == ["drone", "drone"]  # one resource per drone
    spans = [s for rs in body["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    trace_ids = {s["traceId"] for s in spans}
    assert len(trace_ids) == 1 and re.fullmatch(r"[0-9a-f]{32}", trace_ids.pop())
    ids = {s["spanId"] for s in spans}
    roots = [s for s in spans if "parentSpanId" not in s]
    assert len(roots) == 1 and all(s["parentSpanId"] in ids for s in spans if "parentSpanId" in s)
    assert all(int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"]) > 0 for s in spans)
    # The OTLP schema accepts it (protobuf's JSON mapping wants bytes as base64 where OTLP JSON uses hex).
    pb = copy.deepcopy(body)
    for rs in pb["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for k in ("traceId", "spanId", "parentSpanId"):
                    if k in s:
                        s[k] = base64.b64encode(bytes.fromhex(s[k])).decode()
    request_pb = json_format.ParseDict(pb, ExportTraceServiceRequest())
    # the goal, the fork, two exec tasks, their two attempts and the drones' two runs
    assert sum(len(ss.spans) for rs in request_pb.resource_spans for ss in rs.scope_spans) == len(spans) == 8
