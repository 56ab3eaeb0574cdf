"""honeycombd's journal in a JetStream stream (--journal jetstream://STREAM) on real nats-server processes with
JetStream (-js, a store directory per node): kill -9 loses nothing acknowledged, a missing stream stops startup,
and a 3-node cluster keeps the journal with replicas 3 through the loss of a node."""
import json, os, signal, subprocess

import conftest
from conftest import HONEYCOMBD, free_port, hive, wait_for_log, wait_until
from test_control_plane import start_drones, submit_wait, tasks_in

def js_server(procs, tmp_path, name="n0", extra=()):
    """One nats-server with JetStream, storing under tmp_path/name; returns its client port."""
    return procs.nats_server(extra=["-js", "-sd", str(tmp_path / name), "-n", name, *extra])


class JetStreamCluster:
    """A 3-node nats-server cluster with JetStream (a store directory per node, loopback routes) on client ports
    chosen in advance, so a node killed or not yet started comes up on its own port, with its own store."""

    def __init__(self, procs, tmp_path, name, size=3):
        self.procs, self.tmp_path, self.name = procs, tmp_path, name
        self.ports, self.routes = [free_port() for _ in range(size)], [free_port() for _ in range(size)]
        self.nodes = [None] * size
        self.urls = [f"nats://127.0.0.1:{p}" for p in self.ports]

    def start(self, i):
        """Starts node i (again); returns its process."""
        others = ",".join(f"nats://127.0.0.1:{r}" for j, r in enumerate(self.routes) if j != i)
        self.procs.nats_server(self.ports[i], extra=["-js", "-sd", str(self.tmp_path / f"n{i}"), "-n", f"n{i}",
                                                     "--cluster_name", self.name,
                                                     "--cluster", f"nats://127.0.0.1:{self.routes[i]}", "--routes", others])
        self.nodes[i] = self.procs.procs[-1]
        return self.nodes[i]


def js_cluster(procs, tmp_path, name):
    """Every node of a `JetStreamCluster` started; returns (urls, nodes)."""
    c = JetStreamCluster(procs, tmp_path, name)
    for i in range(len(c.ports)):
        c.start(i)
    return c.urls, c.nodes


def start_on_stream(procs, tmp_path, nats, stream, *extra, config=None):
    """honeycombd with a fast heartbeat (and `config`), its journal in `stream` on `nats`; returns once it is on the bus."""
    cfg = tmp_path / "hc.json"
    cfg.write_text(json.dumps({"heartbeat_ms": 200, "drone_lost_after_ms": 600, "http": "off", **(config or {})}))
    hc = conftest.start_honeycombd(procs, "--config", str(cfg), "--nats", nats, "--journal", f"jetstream://{stream}",
                                   *extra, http=None, timeout=30)
    hc.url = nats.split(",")[0]
    return hc


def test_sigkilled_honeycombd_on_a_jetstream_journal_loses_nothing(procs, tmp_path):
    nats = f"nats://127.0.0.1:{js_server(procs, tmp_path)}"
    hc = start_on_stream(procs, tmp_path, nats, "HIVE", "--journal-create", config={"journal_compact_bytes": 4096})
    assert "event=jetstream_stream_created" in hc.startup_log
    start_drones(procs, nats, 3, slots=2)
    # Finished goals, acknowledged before the crash (enough records to compact into a snapshot on the stream).
    done = []
    for i in range(3):
        code, result = submit_wait(nats, "--exec", "/bin/echo", f"done{i}", "--count", "20")
        assert code == 0
        done.append(result["goal"]["goal"])
    n = 60
    sub = subprocess.Popen([os.environ.get("HIVE", "hive"), "submit", "--exec", "/bin/sh", "-c",
                            "sleep 0.1; echo $HIVE_TASK_INDEX", "--count", str(n), "--wait", "--json",
                            "--honeycomb", nats], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until("the running goal is under way", lambda: len(tasks_in_goal(nats, 3, {"succeeded"})) > 0)
    hc.send_signal(signal.SIGKILL)
    hc.wait()
    restarted = start_on_stream(procs, tmp_path, nats, "HIVE", config={"journal_compact_bytes": 4096})
    assert "event=recovered" in restarted.startup_log and "goals=4" in restarted.startup_log, restarted.startup_log
    assert "from_snapshot=true" in restarted.startup_log, "the compactions wrote a snapshot to the stream"
    out, err = sub.communicate(timeout=120)
    assert sub.returncode == 0, err
    assert sorted(int(t["output"].strip()) for t in json.loads(out)["tasks"]) == list(range(n))
    for i, goal in enumerate(done):
        r = json.loads(hive("result", goal, "--json", "--honeycomb", nats).stdout)
        assert r["goal"]["state"] == "succeeded" and [t["output"] for t in r["tasks"]] == [f"done{i}\n"] * 20


def tasks_in_goal(url, index, states):
    """Tasks of the index-th goal (in submission order) in any of `states`, or [] before it exists."""
    goals = hive("goals", "--json", "--honeycomb", url)
    listed = json.loads(goals.stdout) if goals.returncode == 0 else []
    if len(listed) <= index:
        return []
    r = hive("tasks", listed[index]["goal"], "--json", "--honeycomb", url)
    return [t for t in json.loads(r.stdout) if t["state"] in states] if r.returncode == 0 else []


def test_a_missing_stream_stops_startup_with_the_reason(procs, tmp_path):
    nats = f"nats://127.0.0.1:{js_server(procs, tmp_path)}"
    r = subprocess.run([HONEYCOMBD, "--nats", nats, "--journal", "jetstream://NOPE", "--http", "off"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "no such stream" in r.stderr and "--journal-create" in r.stderr, r.stderr


def test_the_embedded_broker_has_no_jetstream():
    r = subprocess.run([HONEYCOMBD, "--journal", "jetstream://HIVE", "--http", "off"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 78 and "needs --nats" in r.stderr, r.stderr


def test_a_three_node_cluster_keeps_the_journal_through_the_loss_of_a_node(procs, tmp_path):
    urls, nodes = js_cluster(procs, tmp_path, "hive-js")
    hc = start_on_stream(procs, tmp_path, urls[0], "HIVE3?replicas=3", "--journal-create")
    assert "replicas=3" in hc.startup_log, hc.startup_log
    start_drones(procs, urls[1], 2, slots=4)
    code, result = submit_wait(urls[1], "--exec", "/bin/echo", "kept", "--count", "10")
    assert code == 0
    goal = result["goal"]["goal"]
    # honeycombd and the node it used both die; a new honeycombd on the other two nodes finds everything.
    hc.send_signal(signal.SIGKILL)
    hc.wait()
    nodes[0].send_signal(signal.SIGKILL)
    nodes[0].wait()
    restarted = start_on_stream(procs, tmp_path, ",".join(urls[1:]), "HIVE3?replicas=3")
    assert "goals=1" in restarted.startup_log, restarted.startup_log
    r = json.loads(hive("result", goal, "--json", "--honeycomb", urls[2]).stdout)
    assert r["goal"]["state"] == "succeeded" and [t["output"] for t in r["tasks"]] == ["kept\n"] * 10
    code, again = submit_wait(urls[2], "--exec", "/bin/echo", "after", "--count", "5")
    assert code == 0 and [t["output"] for t in again["tasks"]] == ["after\n"] * 5


def test_a_stream_made_while_the_cluster_still_meets_its_peers_waits_for_them(procs, tmp_path):
    # Two of three nodes up, their meta leader elected, the third not met yet: a replicas-3 stream has "no suitable
    # peers for placement" for now (what a cluster and honeycombd started together see). Startup waits, not fails.
    cluster = JetStreamCluster(procs, tmp_path, "hive-f")
    cluster.start(0)
    cluster.start(1)
    url = cluster.urls[0]
    wait_until("the two nodes' meta leader", lambda: meta_leader(url),
               timeout=60, interval=0.2)
    hc = procs.start([os.path.abspath(HONEYCOMBD), "--nats", url, "--journal", "jetstream://HIVEF?replicas=3",
                      "--journal-create", "--http", "off"])
    waiting = wait_for_log(hc, "event=jetstream_waiting", timeout=30)
    assert "no suitable peers" in waiting[-1], waiting
    cluster.start(2)
    wait_for_log(hc, "event=bus_connected", timeout=60)


def meta_leader(url):
    """True once the cluster's JetStream answers API requests (its meta leader is elected), asked with nats-py."""
    import asyncio, nats as nats_py

    async def ask():
        nc = await nats_py.connect(url)
        try:
            await nc.jetstream(timeout=1).account_info()
            return True
        except Exception:
            return False
        finally:
            await nc.close()
    return asyncio.run(ask())


def test_losing_quorum_answers_unavailable_and_keeps_the_goal(procs, tmp_path):
    # Every port chosen in advance: two nodes come back on theirs, with their stores, after the outage.
    cluster = JetStreamCluster(procs, tmp_path, "hive-q")
    nodes = [cluster.start(i) for i in range(3)]
    url = cluster.urls[0]
    hc = start_on_stream(procs, tmp_path, url, "HIVEQ?replicas=3", "--journal-create", "--journal-ack-timeout-ms", "1000")
    first = hive("submit", "--exec", "/bin/echo", "before", "--count", "1", "--json", "--honeycomb", url)
    assert first.returncode == 0, first.stderr
    for n in nodes[1:]:
        n.send_signal(signal.SIGKILL)
        n.wait()
    during = hive("submit", "--exec", "/bin/echo", "during", "--count", "1", "--json", "--honeycomb", url)
    assert during.returncode != 0 and "not acknowledged by the journal" in during.stderr, (during.returncode, during.stderr)
    wait_for_log(hc, "event=journal_unavailable")
    cluster.start(1)
    cluster.start(2)
    wait_for_log(hc, "event=journal_available", timeout=30)
    # The goal the outage refused to acknowledge was kept and written once quorum came back: a new honeycombd finds it.
    hc.send_signal(signal.SIGKILL)
    hc.wait()
    restarted = start_on_stream(procs, tmp_path, url, "HIVEQ?replicas=3")
    assert "goals=2" in restarted.startup_log, restarted.startup_log
    after = hive("submit", "--exec", "/bin/echo", "after", "--count", "1", "--json", "--honeycomb", url)
    assert after.returncode == 0, after.stderr
