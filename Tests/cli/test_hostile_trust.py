"""With principals configured, a drone's credential is only that drone: the audit's attacks from issue 14, run as
the attacker would, each get a permissions violation or are refused, and the victim's goal is unharmed."""
import asyncio, json, time

import nats

from conftest import DRONE, hive, start_honeycombd, wait_for_log, wait_until

OPERATOR, VICTIM, MALLORY = "op-token-1", "laptop-token-1", "mallory-token-1"


def start(procs, tmp_path):
    cfg = tmp_path / "honeycombd.json"
    cfg.write_text(json.dumps({"http": "off", "heartbeat_ms": 200, "drone_lost_after_ms": 2000, "principals": [
        {"name": "alice", "role": "operator", "token": OPERATOR},
        {"name": "laptop-1", "role": "drone", "token": VICTIM},
        {"name": "mallory", "role": "drone", "token": MALLORY},
    ]}))
    hc = start_honeycombd(procs, "--config", str(cfg), http=None)
    return hc, hc.port


def test_a_drone_credential_cannot_sniff_forge_impersonate_or_serve_the_api(procs, tmp_path):
    hc, port = start(procs, tmp_path)
    op = f"nats://{OPERATOR}@127.0.0.1:{port}"
    victim = procs.start([DRONE, "--honeycomb", f"nats://{VICTIM}@127.0.0.1:{port}", "--name", "laptop-1",
                          "--allow-exec", "/bin/sh"])
    wait_for_log(victim, "event=joined")
    goal = json.loads(hive("submit", "--exec", "/bin/sh", "-c", "sleep 1; echo genuine", "--json",
                           "--honeycomb", op).stdout)["goal"]

    async def attack():
        errors = []

        async def on_error(e):
            errors.append(str(e))

        nc = await nats.connect(f"nats://{MALLORY}@127.0.0.1:{port}", error_cb=on_error, allow_reconnect=False)
        sniffed = []

        async def sniff(m):
            sniffed.append(m.subject)

        async def fake_api(m):
            await m.respond(b'{"goal":"g666"}')

        for subject in (">", "hive.v1.drone.laptop-1.task", "hive.v1.drone.*.result"):
            await nc.subscribe(subject, cb=sniff)
        # Serve the API in honeycombd's queue group, to answer submits with fake ids.
        await nc.subscribe("hive.v1.api.*", queue="honeycombd", cb=fake_api)
        forged = {"task": f"{goal}.1", "attempt": 1, "token": "forged", "drone": "laptop-1", "outcome": "succeeded",
                  "output": "FORGED-BY-ATTACKER"}
        await nc.publish("hive.v1.drone.laptop-1.result", json.dumps(forged).encode())
        # On its own subject the payload may name anyone: honeycombd takes the sender from the subject.
        await nc.publish("hive.v1.drone.mallory.result", json.dumps(forged).encode())
        await nc.publish("hive.v1.drone.laptop-1.task", json.dumps({
            "task": "x.1", "goal": "x", "attempt": 1, "token": "t", "kind": "exec", "index": 0, "timeout_ms": 1000,
            "input": {"command": "/bin/sh", "args": ["-c", "echo pwned"]}}).encode())
        for verb in ("hello", "hb", "bye"):
            await nc.publish(f"hive.v1.drone.laptop-1.{verb}", b"{}")
        await nc.publish("hive.v1.drone.laptop-1.cancel", json.dumps({"task": f"{goal}.1"}).encode())
        await nc.publish("hive.v1.api.submit", b"{}")
        await nc.flush()
        # nats-py hands -ERR lines to the error callback asynchronously: wait for all eleven, with a deadline.
        deadline = time.monotonic() + 10
        while len(errors) < 11 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await nc.close()
        return errors, sniffed

    errors, sniffed = asyncio.run(attack())
    text = "\n".join(errors).lower()  # nats-py reports the -ERR text in lower case
    for subject in (">", "hive.v1.drone.laptop-1.task", "hive.v1.drone.*.result"):
        assert f'permissions violation for subscription to "{subject}"' in text, text
    assert 'permissions violation for subscription to "hive.v1.api.*" using queue "honeycombd"' in text, text
    for subject in ("hive.v1.drone.laptop-1.result", "hive.v1.drone.laptop-1.task", "hive.v1.drone.laptop-1.hello",
                    "hive.v1.drone.laptop-1.hb", "hive.v1.drone.laptop-1.bye", "hive.v1.drone.laptop-1.cancel",
                    "hive.v1.api.submit"):
        assert f'permissions violation for publish to "{subject}"' in text, text
    assert sniffed == [], "nothing of anyone else's reached the attacker"

    # The operator's submits still reach honeycombd (no fake ids), and the victim goal finishes with the real output.
    again = json.loads(hive("submit", "--exec", "/bin/sh", "-c", "echo second", "--json", "--honeycomb", op).stdout)
    assert again["goal"] != "g666"
    def finished():
        result = json.loads(hive("result", goal, "--json", "--honeycomb", op).stdout)
        return result if result["goal"]["state"] != "running" else None
    result = wait_until(f"the victim's goal {goal} to finish", finished)
    assert result["goal"]["state"] == "succeeded" and result["tasks"][0]["output"] == "genuine\n", result
    drones = json.loads(hive("drones", "--json", "--honeycomb", op).stdout)
    assert [(d["drone"], d["state"]) for d in drones] == [("laptop-1", "active")], drones

    hc.terminate()
    _, err = hc.communicate(timeout=10)
    assert "event=drone_message_rejected" in err and "reason=\"result from another drone's subject\"" in err
    assert "event=permission_violation" in err and "principal=mallory" in err


def test_http_users_are_the_operator_and_observer_principals(procs, tmp_path):
    from test_http_trust import raw

    cfg = tmp_path / "honeycombd.json"
    cfg.write_text(json.dumps({"http": "127.0.0.1:0", "principals": [
        {"name": "alice", "role": "operator", "token": OPERATOR},
        {"name": "grafana", "role": "observer", "token": "observer-token-1"},
        {"name": "laptop-1", "role": "drone", "token": VICTIM},
    ]}))
    http = start_honeycombd(procs, "--config", str(cfg), http=None, ready="event=http_listening").http_port
    host = {"Host": f"127.0.0.1:{http}", "Content-Type": "application/json"}
    plan = json.dumps({"root": {"kind": "noop"}}).encode()

    def as_(token, method, path, body=b""):
        return raw(http, method, path, {**host, "Authorization": f"Bearer {token}"}, body)[0]

    assert as_("observer-token-1", "GET", "/api/status") == 200
    assert as_("observer-token-1", "POST", "/api/goals", plan) == 403, "an observer only reads"
    assert as_(VICTIM, "GET", "/api/status") == 401, "a drone's credential is not an HTTP user"
    assert as_(OPERATOR, "POST", "/api/goals", plan) == 201


def test_an_issued_drone_credential_runs_work_keeps_its_tier_survives_a_restart_and_can_be_revoked(procs, tmp_path):
    data = tmp_path / "data"
    cfg = tmp_path / "honeycombd.json"
    cfg.write_text(json.dumps({"http": "off", "heartbeat_ms": 200, "drone_lost_after_ms": 2000, "principals": [
        {"name": "alice", "role": "operator", "token": OPERATOR}]}))
    hc = start_honeycombd(procs, "--config", str(cfg), "--data", str(data), http=None)
    port = hc.port
    op = f"nats://{OPERATOR}@127.0.0.1:{port}"
    r = hive("drone", "add", "laptop-2", "--tier", "worker", "--json", "--honeycomb", op)
    assert r.returncode == 0, r.stderr
    issued = json.loads(r.stdout)
    assert issued["name"] == "laptop-2" and issued["tier"] == "worker" and len(issued["token"]) >= 32
    assert oct((data / "drone-credentials.json").stat().st_mode & 0o777) == "0o600"
    text = hive("drone", "add", "laptop-3", "--honeycomb", op).stdout
    assert "run    drone --honeycomb nats://" in text and "--name laptop-3 --tier worker" in text
    assert "exists already" in hive("drone", "add", "laptop-2", "--honeycomb", op).stderr
    url = f"nats://{issued['token']}@127.0.0.1:{port}"

    # The credential was issued for a worker: announcing core is refused.
    liar = procs.start([DRONE, "--honeycomb", url, "--name", "laptop-2", "--tier", "core"])
    wait_for_log(liar, "event=refused")
    liar.kill()

    # It survives a restart of honeycombd, and the drone runs work with it.
    hc.terminate()
    hc.wait(timeout=15)
    # Back on the port it had: the drone's URL names it.
    hc = start_honeycombd(procs, "--config", str(cfg), "--data", str(data), "--listen", f"127.0.0.1:{port}", http=None)
    drone = procs.start([DRONE, "--honeycomb", url, "--name", "laptop-2", "--tier", "worker", "--allow-exec", "/bin/sh"])
    wait_for_log(drone, "event=joined")
    r = hive("submit", "--exec", "/bin/sh", "-c", "echo hi", "--wait", "--json", "--honeycomb", op, timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["tasks"][0]["output"] == "hi\n", r.stderr

    # Revoked: disconnected at once, shown as lost, and the credential is refused from then on.
    r = hive("drone", "revoke", "laptop-2", "--honeycomb", op)
    assert r.returncode == 0 and "revoked laptop-2" in r.stdout, r.stderr
    states = lambda: [(d["drone"], d["state"]) for d in json.loads(hive("drones", "--json", "--honeycomb", op).stdout)]
    assert states() == [("laptop-2", "lost")]
    assert hive("status", "--honeycomb", url, timeout=20).returncode != 0
    assert "no drone credential named 'laptop-2'" in hive("drone", "revoke", "laptop-2", "--honeycomb", op).stderr


def test_a_drone_answering_with_a_fork_of_commands_it_may_not_run_injects_nothing(procs, tmp_path):
    """The audit: a fake drone answered a noop task with a fork of `python3 -c …`, and another drone ran it."""
    hc, port = start(procs, tmp_path)
    op = f"nats://{OPERATOR}@127.0.0.1:{port}"
    marker = tmp_path / "pwned"
    victim = procs.start([DRONE, "--honeycomb", f"nats://{VICTIM}@127.0.0.1:{port}", "--name", "laptop-1",
                          "--allow-exec", "/bin/sh"])
    wait_for_log(victim, "event=joined")

    async def run():
        # A drone's credential may read replies only on its own inboxes.
        nc = await nats.connect(f"nats://{MALLORY}@127.0.0.1:{port}", inbox_prefix="_INBOX.mallory")
        tasks = await nc.subscribe("hive.v1.drone.mallory.task")
        hello = {"drone": "mallory", "name": "mallory", "tier": "worker", "slots": 4, "capabilities": ["backend:noop"],
                 "version": "0.1.0"}
        reply = json.loads((await nc.request("hive.v1.drone.mallory.hello", json.dumps(hello).encode(), timeout=5)).data)
        assert reply["accepted"], reply
        busy = hive("submit", "--exec", "/bin/sh", "-c", "sleep 3", "--json", "--honeycomb", op)
        assert busy.returncode == 0, busy.stderr
        plan = tmp_path / "noop.json"
        plan.write_text(json.dumps({"root": {"kind": "noop", "max_attempts": 3}}))
        goal = json.loads(hive("submit", str(plan), "--json", "--honeycomb", op).stdout)["goal"]
        a = json.loads((await tasks.next_msg(timeout=10)).data)
        injected = {"kind": "exec", "input": {"command": "/bin/sh", "args": ["-c", f"touch {marker}"]}}
        await nc.publish("hive.v1.drone.mallory.result", json.dumps({
            "task": a["task"], "attempt": a["attempt"], "token": a["token"], "drone": "mallory", "outcome": "succeeded",
            "fork": [injected, injected]}).encode())
        await nc.flush()
        await nc.close()
        return goal

    goal = asyncio.run(run())
    r = hive("watch", goal, "--honeycomb", op, timeout=60)
    tasks = json.loads(hive("tasks", goal, "--json", "--honeycomb", op).stdout)
    assert len(tasks) == 1, "nothing of the proposal was created"
    assert not marker.exists(), "the proposed command never ran"
    hc.terminate()
    _, err = hc.communicate(timeout=10)
    refused = [l for l in err.splitlines() if "event=drone_message_rejected" in l and "reason=\"fork refused\"" in l]
    assert refused and "drone=mallory" in refused[0] and "has no backend for" in refused[0], err[-2000:]
    assert r.returncode == 0, "the goal still succeeds: the noop ran again on an honest drone"
