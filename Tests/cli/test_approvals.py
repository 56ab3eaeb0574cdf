"""Approvals for side effects with real processes: a drone declares a command side-effecting (--side-effects);
its tasks wait in awaiting_approval until hive approve / hive deny or the approval timeout, and every waiting task
and every decision survives kill -9 of honeycombd."""
import json, signal

from conftest import DRONE, hive, start_honeycombd as start_daemon, wait_for_log, wait_until as wait_for
from test_control_plane import start_honeycombd


def touch_goal(path, timeout_ms=None):
    goal = {"root": {"kind": "exec", "input": {"command": "/bin/touch", "args": [str(path)]}}}
    if timeout_ms:
        goal["budget"] = {"approval_timeout_ms": timeout_ms}
    return goal


def submit(url, tmp_path, name, goal):
    f = tmp_path / f"{name}.json"
    f.write_text(json.dumps(goal))
    r = hive("submit", str(f), "--honeycomb", url)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def start_drone(procs, url):
    d = procs.start([DRONE, "--honeycomb", url, "--name", "d0", "--slots", "2", "--allow-exec", "/bin/touch,/bin/sh",
                     "--side-effects", "/bin/touch"])
    wait_for_log(d, "event=joined")
    return d


def tasks(url, goal):
    r = hive("tasks", goal, "--json", "--honeycomb", url)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def goal_state(url, goal):
    r = hive("goal", goal, "--json", "--honeycomb", url)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def awaiting(url, goal):
    ts = [t for t in tasks(url, goal) if t["state"] == "awaiting_approval"]
    return ts or None


def test_side_effects_wait_for_approval_deny_and_timeout_and_survive_kill_9(procs, tmp_path):
    data = tmp_path / "data"
    hc = start_honeycombd(procs, tmp_path, data=data)
    url = hc.url
    drone = start_drone(procs, url)
    marks = {k: tmp_path / f"{k}.mark" for k in ("approved", "denied", "timed")}
    approved = submit(url, tmp_path, "approved", touch_goal(marks["approved"]))
    denied = submit(url, tmp_path, "denied", touch_goal(marks["denied"]))
    # Long enough to outlive the restart below, short enough for the test.
    timed = submit(url, tmp_path, "timed", touch_goal(marks["timed"], timeout_ms=12_000))

    # Each waits, listed with what it will run, where and who proposed it; nothing ran.
    for goal, mark in ((approved, marks["approved"]), (denied, marks["denied"]), (timed, marks["timed"])):
        [t] = wait_for(f"{goal} to await approval", lambda: awaiting(url, goal))
        assert t["approval"]["runs"] == f"exec /bin/touch {mark}"
        assert t["approval"]["drone"] == "d0"
        assert t["approval"]["proposed_by"] == f"submitter of {goal}"
        assert "d0 declares /bin/touch side-effecting" in t["approval"]["why"]
        assert not mark.exists()
    text = hive("tasks", approved, "--honeycomb", url)
    assert "awaiting_approval" in text.stdout and f"awaits approval: exec /bin/touch {marks['approved']} on d0" in text.stdout

    # Approve one with no drone to run it (the drone leaves first), so the approval itself must survive the kill.
    drone.send_signal(signal.SIGTERM)
    drone.wait(timeout=15)
    r = hive("approve", approved, "--honeycomb", url)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"approved {approved}.0"
    [t] = tasks(url, approved)
    assert t["state"] == "pending" and t["approved_by"] == "operator"

    hc.send_signal(signal.SIGKILL)
    hc.wait()
    restarted = start_honeycombd(procs, tmp_path, data=data, port=hc.port)
    assert "event=recovered" in restarted.startup_log
    # The waiting tasks are still waiting; the approved one is still approved.
    assert awaiting(url, denied) and awaiting(url, timed)
    [t] = tasks(url, approved)
    assert t["state"] == "pending" and t["approved_by"] == "operator"

    start_drone(procs, url)
    # The approved task runs without being asked again.
    wait_for("the approved goal to succeed", lambda: goal_state(url, approved)["state"] == "succeeded")
    assert marks["approved"].exists()

    # Deny after the restart: the task is dead with the reason and the goal fails with it.
    r = hive("deny", denied, "--reason", "not on a Friday", "--honeycomb", url)
    assert r.returncode == 0, r.stderr
    g = wait_for("the denied goal to fail", lambda: (lambda g: g if g["state"] == "failed" else None)(goal_state(url, denied)))
    assert g["reason"] == "denied by operator: not on a Friday"
    [t] = tasks(url, denied)
    assert t["state"] == "dead" and t["reason"] == "denied by operator: not on a Friday"
    assert not marks["denied"].exists()

    # Nobody answers the third: its timeout denies it.
    g = wait_for("the unanswered goal to time out", lambda: (lambda g: g if g["state"] == "failed" else None)(goal_state(url, timed)))
    assert g["reason"] == "approval timed out after 12000 ms (budget.approval_timeout_ms); denied"
    assert not marks["timed"].exists()

    # A decided task cannot be decided again.
    r = hive("approve", denied, "--honeycomb", url)
    assert r.returncode != 0 and "is failed" in r.stderr


def test_deny_needs_a_reason_and_side_effects_must_be_allowed_commands(procs, tmp_path):
    r = hive("deny", "g1", "--honeycomb", "nats://127.0.0.1:1")
    assert r.returncode != 0 and "--reason" in r.stderr
    d = procs.start([DRONE, "--honeycomb", "nats://127.0.0.1:1", "--allow-exec", "/bin/sh", "--side-effects", "/bin/rm"])
    d.wait(timeout=10)
    assert d.returncode != 0
    assert "--side-effects names /bin/rm, which is not in --allow-exec" in d.stderr.read()


def test_http_approvals_record_the_principal_and_observers_may_not_decide(procs, tmp_path):
    from test_http_trust import raw

    cfg = tmp_path / "honeycombd.json"
    cfg.write_text(json.dumps({"http": "127.0.0.1:0", "heartbeat_ms": 200, "principals": [
        {"name": "alice", "role": "operator", "token": "op-token-1"},
        {"name": "grafana", "role": "observer", "token": "observer-token-1"},
        {"name": "laptop-1", "role": "drone", "token": "laptop-token-1"},
    ]}))
    hc = start_daemon(procs, "--config", str(cfg), http=None, ready="event=http_listening")
    http = hc.http_port
    d = procs.start([DRONE, "--honeycomb", f"nats://laptop-token-1@127.0.0.1:{hc.port}", "--name", "laptop-1"])
    wait_for_log(d, "event=joined")
    host = {"Host": f"127.0.0.1:{http}", "Content-Type": "application/json"}

    def as_(token, method, path, body=None):
        status, _, text = raw(http, method, path, {**host, "Authorization": f"Bearer {token}"},
                              json.dumps(body).encode() if body is not None else b"")
        return status, (json.loads(text) if text else None)

    # A task-tree node marked "approval": "required" waits even though nothing about it is side-effecting.
    plan = {"root": {"kind": "fork", "children": [{"kind": "noop", "approval": "required"}]}}
    status, body = as_("op-token-1", "POST", "/api/goals", plan)
    assert status == 201, body
    ok = body["goal"]
    status, body = as_("op-token-1", "POST", "/api/goals", plan)
    no = body["goal"]
    for goal in (ok, no):
        wait_for(f"{goal} to await approval", lambda: [t for t in as_("op-token-1", "GET", f"/api/goals/{goal}/tasks")[1]
                                                       if t["state"] == "awaiting_approval"])

    status, body = as_("observer-token-1", "POST", f"/api/goals/{ok}/approve", {})
    assert status == 403 and "observer" in body["error"], body
    status, body = as_("op-token-1", "POST", f"/api/goals/{ok}/approve", {"tasks": [f"{ok}.1"]})
    assert status == 200 and body == {"goal": ok, "tasks": [f"{ok}.1"]}, body
    wait_for("the approved goal to succeed", lambda: as_("op-token-1", "GET", f"/api/goals/{ok}")[1]["goal"]["state"] == "succeeded")
    [t] = [t for t in as_("op-token-1", "GET", f"/api/goals/{ok}/tasks")[1] if t["task"] == f"{ok}.1"]
    assert t["approved_by"] == "alice"
    assert "goal marks it" in t["approval"]["why"]

    status, body = as_("op-token-1", "POST", f"/api/goals/{no}/deny", {"reason": "no thanks"})
    assert status == 200, body
    g = wait_for("the denied goal to fail", lambda: (lambda g: g if g["state"] == "failed" else None)(
        as_("op-token-1", "GET", f"/api/goals/{no}")[1]["goal"]))
    assert "denied by alice: no thanks" in g["reason"]
    status, body = as_("op-token-1", "POST", f"/api/goals/{no}/deny", {"reason": "again"})
    assert status == 409 and "is failed" in body["error"], body


def test_the_dashboard_marks_waiting_tasks_and_approves_and_denies_with_a_reason(procs, tmp_path):
    import pytest
    from test_dashboard import AUTH, CSP_WATCH, TOKEN, Browser
    from test_control_plane import start_drones
    from test_http import request

    hc = start_honeycombd(procs, tmp_path, extra={"http": "127.0.0.1:0", "auth": {"token": TOKEN}})
    http_port = hc.http_port
    start_drones(procs, f"nats://{TOKEN}@127.0.0.1:{hc.port}", 1, slots=2)
    plan = {"root": {"kind": "noop", "approval": "required"}}
    ok = request(http_port, "POST", "/api/goals", plan, AUTH)[2]["goal"]
    no = request(http_port, "POST", "/api/goals", plan, AUTH)[2]["goal"]
    browser = Browser(procs)
    try:
        browser.call("Page.enable")
        browser.call("Page.addScriptToEvaluateOnNewDocument", source=CSP_WATCH)
        browser.call("Page.navigate", url=f"http://127.0.0.1:{http_port}/?goal={ok}")
        browser.wait("document.querySelector('#login-form')?.dataset.ready === 'true'")
        browser.eval(f"document.querySelector('#token').value = '{TOKEN}'; document.querySelector('#login-button').click()")
        # Marked, with what it will run and why, and the buttons; Approve runs it.
        browser.wait(f"document.querySelector(`#tree .node[data-task='{ok}.0'][data-state=awaiting_approval]`) !== null")
        box = browser.eval(f"document.querySelector(`.approval[data-task='{ok}.0']`).textContent")
        assert "awaits approval" in box and "noop" in box and f"submitter of {ok}" in box, box
        browser.eval(f"document.querySelector(`.approval[data-task='{ok}.0'] .approve`).click()")
        browser.wait("document.querySelector('#goal-panel').dataset.state === 'succeeded'", timeout=20)
        # Deny asks for a reason and sends none without it.
        browser.wait(f"document.querySelector(`#goals tr[data-goal='{no}']`) !== null")
        browser.eval(f"document.querySelector(`#goals tr[data-goal='{no}']`).click()")
        browser.wait(f"document.querySelector(`.approval[data-task='{no}.0'] .deny`) !== null")
        browser.eval(f"document.querySelector(`.approval[data-task='{no}.0'] .deny`).click()")
        browser.wait(f"!document.querySelector(`.approval[data-task='{no}.0'] .deny-reason`).hidden")
        browser.eval(f"document.querySelector(`.approval[data-task='{no}.0'] .deny-confirm`).click()")
        assert request(http_port, "GET", f"/api/goals/{no}", headers=AUTH)[2]["goal"]["state"] == "running"
        browser.eval(f"document.querySelector(`.approval[data-task='{no}.0'] .deny-reason`).value = 'looks wrong';"
                     f"document.querySelector(`.approval[data-task='{no}.0'] .deny-confirm`).click()")
        browser.wait("document.querySelector('#goal-panel').dataset.state === 'failed'", timeout=20)
        g = request(http_port, "GET", f"/api/goals/{no}", headers=AUTH)[2]["goal"]
        assert g["reason"] == "denied by admin: looks wrong", g  # the legacy credential's principal
        assert browser.eval("JSON.stringify(window.__csp)") == "[]"
    finally:
        browser.close()
