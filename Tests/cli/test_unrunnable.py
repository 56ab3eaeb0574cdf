"""Work that cannot run says so: at submission, while `hive submit --wait` waits, in `hive goal`, and the goal
finishes once a drone that can run it joins. Unknown kinds, answers that break their JSON Schema and plans whose
calls cannot fit their token budget are refused or failed with the reason."""
import json, os, pathlib, subprocess

from conftest import HIVE, hive, wait_for_log
from test_control_plane import start_drones, start_honeycombd


def submit_waiting(procs, url, *args):
    """`hive submit … --wait` in the background; its stderr is read as it waits."""
    env = dict(os.environ)
    env.pop("HIVE_URL", None)
    return procs.start([HIVE, "submit", *args, "--wait", "--honeycomb", url], env=env)


def test_a_tier_nobody_serves_then_a_command_nobody_allows_then_a_drone_that_can(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    start_drones(procs, url, 1, allow="/bin/sh")  # d0, worker
    waiting = submit_waiting(procs, url, "--tier", "core", "--exec", "/bin/echo", "hello")
    warned = "".join(wait_for_log(waiting, "warning:"))
    assert "goal g1 accepted, but no live drone can run task g1.1 (exec, tier core): " \
           "no active drone of tier core (live: worker d0 [" in warned, warned

    shown = hive("goal", "g1", "--honeycomb", url)
    assert shown.returncode == 0, shown.stderr
    assert "goal g1 running" in shown.stdout
    assert "waiting: task g1.1 (exec, tier core): no active drone of tier core" in shown.stdout, shown.stdout
    as_json = json.loads(hive("goal", "g1", "--json", "--honeycomb", url).stdout)
    assert [w["blocker"] for w in as_json["waiting"]] == ["tier"]
    tasks = json.loads(hive("tasks", "g1", "--json", "--honeycomb", url).stdout)
    assert tasks[1]["state"] == "pending" and "no active drone of tier core" in tasks[1]["waiting"]

    # A core drone that may not run /bin/echo: the reason changes, and --wait says so.
    start_drones(procs, url, 1, allow="/bin/sh", tier="core")  # d1
    changed = "".join(wait_for_log(waiting, "waiting:", timeout=15))
    assert "no active drone allows /bin/echo (drone --allow-exec; exec drones: core d1 [allows /bin/sh" in changed, changed

    # One that may: the goal finishes.
    start_drones(procs, url, 1, allow="/bin/echo", tier="core")  # d2
    out, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 0, err
    assert "goal g1 succeeded" in out and "hello" in out and "on d2" in out, out


def test_a_command_no_drone_allows_waits_with_the_reason_until_one_does(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    start_drones(procs, url, 1, allow="/bin/sh")
    r = hive("submit", "--exec", "/bin/echo", "hi", "--honeycomb", url)
    assert r.returncode == 0 and r.stdout.strip() == "g1", r.stderr
    assert "no live drone can run task g1.1 (exec, tier any): no active drone allows /bin/echo" in r.stderr, r.stderr
    shown = hive("goal", "g1", "--honeycomb", url).stdout
    assert "waiting: task g1.1 (exec, tier any): no active drone allows /bin/echo" in shown, shown
    start_drones(procs, url, 1, allow="/bin/echo")
    waited = hive("submit", "--exec", "/bin/echo", "again", "--wait", "--honeycomb", url, timeout=30)
    assert waited.returncode == 0 and "warning" not in waited.stderr, waited.stderr
    assert "goal g1 succeeded" in hive("result", "g1", "--honeycomb", url).stdout


def test_unknown_kinds_bad_answers_and_plans_over_their_token_budget_are_refused(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    start_drones(procs, url, 1, allow="/bin/sh")

    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps({"root": {"kind": "exce", "input": {"command": "/bin/sh"}}}))
    r = hive("submit", str(typo), "--honeycomb", url)
    assert r.returncode == 65, r.stderr
    assert "root has kind 'exce', which no backend runs; the kinds are agent, exec, model, noop, sleep, wasm (and fork)" in r.stderr

    # A 0–10 score that came back as 100000000: the task fails with the schema's reason (its one attempt).
    schema = (pathlib.Path(__file__).resolve().parents[2] / "Config" / "schemas" / "verdict.schema.json").read_text()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"root": {"kind": "exec", "max_attempts": 1, "input": {
        "command": "/bin/sh", "args": ["-c", "echo '{\"score\": 100000000, \"reasons\": \"sure\"}'"], "json_schema": schema}}}))
    r = hive("submit", str(bad), "--wait", "--honeycomb", url, timeout=30)
    assert r.returncode == 1, r.stdout
    assert "the answer does not match its json_schema: $.score is 100000000, above the maximum 10" in r.stdout, r.stdout

    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"goal": "Explain tides", "budget": {"max_tokens": 300},
                                "steps": [{"id": "facts", "n": 3, "max_tokens": 256}]}))
    r = hive("submit", str(plan), "--honeycomb", url)
    assert r.returncode == 65, r.stderr
    assert "steps[0] (facts): each explore call can use up to" in r.stderr and "budget.max_tokens 300" in r.stderr, r.stderr


def test_eval_explorers_stay_off_the_core_tier_unless_asked(procs, tmp_path):
    """The README's `hive eval` with a core drone beside a worker: the core one has more free slots, but
    exploring defaults to the cheap tiers (`worker-`), so no call lands on it."""
    url = start_honeycombd(procs, tmp_path).url
    start_drones(procs, url, 1, slots=2)  # worker
    start_drones(procs, url, 1, slots=8, tier="core")
    oracle = "/bin/sh " + str(pathlib.Path(__file__).resolve().parents[2] / "Tests" / "bench" / "oracle_model.sh") + " --p 1"

    def run(*extra):
        r = hive("eval", "--count", "6", "--n", "3", "--join", "vote", "--explorer", oracle, *extra, "--json",
                 "--honeycomb", url, timeout=120)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    cheap = run()
    assert cheap["solved"] == 6 and cheap["calls"] >= 12 and cheap["core_calls"] == 0, cheap
    # Asked for any tier, the drone with the most free slots (the core one) takes most of the calls.
    anywhere = run("--tier", "edge+")
    assert anywhere["solved"] == 6 and anywhere["core_calls"] > 0, anywhere
    print(f"core calls: default {cheap['core_calls']} of {cheap['calls']}, any tier {anywhere['core_calls']} of {anywhere['calls']}")
