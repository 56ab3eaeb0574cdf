"""honeycombd on its embedded broker or on an external NATS server/cluster (--nats), seen through `hive status`."""
import json, signal

from conftest import HONEYCOMBD, free_port, hive, wait_for_log


def test_status_from_the_embedded_broker(procs):
    port = free_port()
    hc = procs.start([HONEYCOMBD, "--listen", f"127.0.0.1:{port}"])
    wait_for_log(hc, "event=bus_connected")
    r = hive("status", "--honeycomb", f"nats://127.0.0.1:{port}")
    assert r.returncode == 0, r.stderr
    assert "broker:      embedded" in r.stdout
    assert f"bus server:  127.0.0.1:{port}" in r.stdout


def test_status_with_auth_through_the_url(procs):
    port = free_port()
    hc = procs.start([HONEYCOMBD, "--listen", f"127.0.0.1:{port}", "--user", "ops", "--pass", "pw"])
    wait_for_log(hc, "event=bus_connected")
    assert hive("status", "--honeycomb", f"nats://ops:pw@127.0.0.1:{port}").returncode == 0
    bad = hive("status", "--honeycomb", f"nats://ops:nope@127.0.0.1:{port}")
    assert bad.returncode == 69 and "refused the credentials" in bad.stderr, bad.stderr


def test_external_nats_server_with_hive_url(procs):
    nats = procs.nats_server()
    port = free_port()  # not opened: the embedded broker must stay off
    hc = procs.start([HONEYCOMBD, "--nats", f"nats://127.0.0.1:{nats}", "--listen", f"127.0.0.1:{port}"])
    lines = wait_for_log(hc, "event=bus_connected")
    assert not any("event=listening" in l for l in lines)
    r = hive("status", "--json", env={"HIVE_URL": f"nats://127.0.0.1:{nats}"})
    assert r.returncode == 0, r.stderr
    status = json.loads(r.stdout)
    assert status["broker"] == "external" and status["bus_server"] == f"127.0.0.1:{nats}"
    assert hive("status", "--honeycomb", f"nats://127.0.0.1:{port}").returncode == 69
    hc.send_signal(signal.SIGTERM)
    assert hc.wait(timeout=10) == 0


def test_honeycombd_on_a_three_node_cluster(procs):
    clients = [free_port() for _ in range(3)]
    routes = [free_port() for _ in range(3)]
    for i in range(3):
        others = ",".join(f"nats://127.0.0.1:{routes[j]}" for j in range(3) if j != i)
        procs.nats_server(clients[i], ["--cluster_name", "hive", "--cluster", f"nats://127.0.0.1:{routes[i]}",
                                       "--routes", others])
    hc = procs.start([HONEYCOMBD, "--nats", f"nats://127.0.0.1:{clients[0]},nats://127.0.0.1:{clients[1]}"])
    wait_for_log(hc, "event=bus_connected")
    # Asked through the third node: the request crosses the cluster's routes (interest spreads
    # asynchronously, so a few attempts may meet no responders first).
    for _ in range(50):
        r = hive("status", "--json", "--honeycomb", f"nats://127.0.0.1:{clients[2]}")
        if r.returncode == 0:
            break
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["broker"] == "external"


def test_honeycombd_waits_for_a_bus_that_comes_up_later(procs):
    nats = free_port()
    hc = procs.start([HONEYCOMBD, "--nats", f"nats://127.0.0.1:{nats}"])
    procs.nats_server(nats)
    wait_for_log(hc, "event=bus_connected", timeout=15)
    assert hive("status", "--honeycomb", f"nats://127.0.0.1:{nats}").returncode == 0


def test_status_without_honeycombd_says_so(procs):
    nats = procs.nats_server()
    r = hive("status", "--honeycomb", f"nats://127.0.0.1:{nats}")
    assert r.returncode == 69
    assert "no honeycombd answers" in r.stderr
    r = hive("status", "--honeycomb", f"nats://127.0.0.1:{free_port()}")
    assert r.returncode == 69 and "Connection refused" in r.stderr


def test_bad_nats_url_is_a_config_error():
    import subprocess
    r = subprocess.run([HONEYCOMBD, "--nats", "http://x:1"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 78
    assert "scheme must be nats://" in r.stderr
