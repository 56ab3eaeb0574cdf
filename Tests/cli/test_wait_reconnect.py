"""`hive submit --wait` across a lost bus connection: the goal's end event is core NATS (at most once), so an end
published while the waiting client was away is lost; the wait asks honeycombd how the goal stands after it
reconnects (and every second), and prints the same result as when the event arrives. With no bus at all, its
--answer-timeout still ends the wait."""
import json, os, signal, subprocess, time

from conftest import HIVE, free_port, hive, wait_for_log, wait_until
from test_control_plane import start_drones, start_honeycombd, tasks_in

# A task that ends when the test says so (the file appears): the goal's end comes exactly when the test wants it.
BLOCKED_ON = "while [ ! -e {0} ]; do sleep 0.05; done; echo released"


def two_node_cluster(procs, ports):
    """Two routed nats-servers on `ports` (chosen before they start: node A comes back on its port) that tell clients
    nothing of each other (--no_advertise), so a client given node A alone can only come back through node A."""
    routes = [free_port(), free_port()]
    def node(i):
        return procs.nats_server(ports[i], extra=["--cluster_name", "wait", "--cluster", f"nats://127.0.0.1:{routes[i]}",
                                                  "--routes", f"nats://127.0.0.1:{routes[1 - i]}", "--no_advertise"])
    return node


def submit_waiting(url, release, *extra):
    return subprocess.Popen([HIVE, "submit", "--exec", "/bin/sh", "-c", BLOCKED_ON.format(release), "--wait", "--json",
                             "--honeycomb", url, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_an_end_published_while_the_waiting_client_was_away_is_heard_after_it_reconnects(procs, tmp_path):
    ports = [free_port(), free_port()]
    node = two_node_cluster(procs, ports)
    node(0)
    node(1)
    a, b = (f"nats://127.0.0.1:{p}" for p in ports)
    start_honeycombd(procs, tmp_path, nats=b)
    start_drones(procs, b, 1, slots=1)
    release = tmp_path / "release"
    waiter = submit_waiting(a, release, "--answer-timeout", "120")
    wait_until("the task running", lambda: tasks_in(b, {"running"}), timeout=60, interval=0.1)
    procs.procs[0].send_signal(signal.SIGKILL)  # node A, the waiting client's only node
    procs.procs[0].wait()
    # The client is away (its reconnects to A are refused) while the goal ends on node B: the end's event is lost.
    wait_for_log(waiter, "event=reconnect_failed", timeout=30)
    release.touch()
    goal = json.loads(hive("goals", "--json", "--honeycomb", b).stdout)[0]["goal"]
    wait_until("the goal ended", lambda: json.loads(hive("goal", goal, "--json", "--honeycomb", b).stdout)["state"] == "succeeded",
               timeout=30, interval=0.1)
    expected = json.loads(hive("result", goal, "--json", "--honeycomb", b).stdout)
    node(0)  # A comes back on its port; the client reconnects to it
    back = time.monotonic()
    out, err = waiter.communicate(timeout=60)
    took = time.monotonic() - back
    assert waiter.returncode == 0, err
    assert f"reconnected to 127.0.0.1:{ports[0]}; asking honeycombd how goal {goal} stands" in err, err
    assert json.loads(out) == expected, "the same JSON as hive result (and as a wait that heard the event)"
    assert expected["tasks"][0]["output"] == "released\n"
    assert took < 15, f"the wait ended {took:.1f} s after node A came back"


def test_the_answer_timeout_ends_a_wait_whose_bus_is_gone(procs, tmp_path):
    port = free_port()
    procs.nats_server(port)
    url = f"nats://127.0.0.1:{port}"
    start_honeycombd(procs, tmp_path, nats=url)
    start_drones(procs, url, 1, slots=1)
    waiter = submit_waiting(url, tmp_path / "never", "--answer-timeout", "3")
    wait_until("the task running", lambda: tasks_in(url, {"running"}), timeout=60, interval=0.1)
    killed = time.monotonic()
    procs.procs[0].send_signal(signal.SIGKILL)  # the only node: no honeycombd can answer now
    try:
        _, err = waiter.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        waiter.kill()
        raise AssertionError("hive submit --wait --answer-timeout 3 was still waiting 30 s after its bus died")
    took = time.monotonic() - killed
    assert waiter.returncode == 69, err
    assert f"honeycombd has not answered for 3 s at {url} (--answer-timeout); giving up the wait" in err
    assert took < 20, f"gave up {took:.1f} s after the bus died"
