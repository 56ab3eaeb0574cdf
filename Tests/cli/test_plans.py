"""Plans end to end through real processes: honeycombd, drones, the hive CLI.

Model text is either the generated GGUF through llama.cpp (the machinery is checked, not the noise it writes) or,
where a test needs to know what a call answers, a scripted stand-in: /bin/sh explorers and critics that read the
rendered prompt on stdin (a test double for model text, as the plan's `exec` fields allow).
"""
import json, os, signal, subprocess

import pytest

from conftest import DRONE, HIVE, HONEYCOMBD, ROOT, hive, start_honeycombd as start_daemon, wait_for_log, wait_until
from test_control_plane import start_drones, start_honeycombd, submit_wait

PROMPTS = os.path.join(ROOT, "Config", "prompts")


def hive_with(tmp_path, procs, **extra):
    """honeycombd on port 0 with the repository's prompts; its bus URL."""
    return start_honeycombd(procs, tmp_path, extra={"prompts_dir": PROMPTS, **extra}).url


def model_drone(procs, url, model, tier, name, slots=2):
    d = procs.start([DRONE, "--honeycomb", url, "--name", name, "--tier", tier, "--model", model, "--slots", str(slots),
                     "--ctx", "2048"])
    wait_for_log(d, "event=joined")
    return d


def sh(script):
    return {"command": "/bin/sh", "args": ["-c", script]}


def test_a_goal_in_words_runs_architect_explorers_critics_and_integrator_on_their_tiers(procs, tmp_path, tiny_model):
    url = hive_with(tmp_path, procs)
    model_drone(procs, url, tiny_model, "core", "core")
    model_drone(procs, url, tiny_model, "edge", "edge")
    model_drone(procs, url, tiny_model, "worker", "worker")
    code, r = submit_wait(url, "Plan a picnic for six people", "--tier", "edge", "--critic-tier", "worker", "--n", "2",
                          "--max-tokens", "32", "--budget-tokens", "40000", "--max-core-calls", "4")
    assert code == 0 and r["goal"]["state"] == "succeeded", r["goal"]
    drones = {d["name"]: d["drone"] for d in json.loads(hive("drones", "--json", "--honeycomb", url).stdout)}
    steps = {s["id"]: s for s in r["steps"]}
    # The architect's plan was schema-constrained JSON on the core tier, and it was adopted.
    plan = steps.pop("plan")
    assert plan["role"] == "decompose" and plan["candidates"][0]["drone"] == drones["core"]
    subtasks = json.loads(plan["output"])["subtasks"]
    assert [s for s in steps if s != "answer"] == [f"s{i + 1}" for i in range(len(subtasks))]
    answer = steps.pop("answer")
    assert answer["role"] == "integrate" and answer["candidates"][0]["drone"] == drones["core"]
    assert r["answer"] == answer["output"]
    for sid, s in steps.items():
        assert s["role"] == "explore" and s["join"] == "best" and s["state"] == "succeeded"
        assert 1 <= len(s["candidates"]) <= 2
        assert sum(c["accepted"] for c in s["candidates"]) == 1
        for c in s["candidates"]:
            assert c["drone"] == drones["edge"] and c["tier"] == "edge"
            if c["state"] == "succeeded" and c.get("output", "").strip():
                assert [j["drone"] for j in c["judges"]] == [drones["worker"]]  # judged on another tier's drone
    ledger = r["ledger"]
    assert ledger["by_tier"]["core"]["calls"] == 2  # architect + integrator: the expensive tier, called rarely
    assert r["goal"]["core_calls"] == 2
    assert 0 < r["goal"]["tokens_spent"] <= 40000
    text = hive("result", r["goal"]["goal"], "--honeycomb", url).stdout
    assert "step plan (decompose, any) succeeded" in text and "judged by" in text


def test_failed_validation_reforks_with_the_critics_feedback_and_critics_avoid_the_author(procs, tmp_path):
    url = hive_with(tmp_path, procs)
    start_drones(procs, url, 2, slots=2)
    plan = {
        "goal": "describe the hive",
        "steps": [{
            "id": "pitch", "n": 2, "join": "best", "critics": 1, "min_score": 6, "max_reforks": 2,
            # Stand-in explorers: vague until the feedback tells them what was wrong.
            "exec": sh("if grep -q 'too vague'; then echo 'many drones, one honeycomb'; else echo 'a thing'; fi"),
            "critic_exec": sh("if grep -q 'many drones'; then echo '{\"score\": 9, \"reasons\": \"concrete\"}';"
                              " else echo '{\"score\": 2, \"reasons\": \"too vague\"}'; fi"),
        }],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    code, r = submit_wait(url, str(path))
    assert code == 0, r["goal"]
    assert r["answer"] == "many drones, one honeycomb"
    step = r["steps"][0]
    assert step["rounds"] == 2 and any("too vague" in f for f in step["feedback"])
    assert [c["round"] for c in step["candidates"]] == [0, 0, 1, 1]
    assert all(c["score"] == 2 for c in step["candidates"][:2])
    for c in step["candidates"]:
        assert c["judges"] and all(j["drone"] != c["drone"] for j in c["judges"])
    assert r["ledger"]["reforks"] == 1


def test_a_verify_check_on_exec_drones_filters_candidates(procs, tmp_path):
    url = hive_with(tmp_path, procs)
    start_drones(procs, url, 2, slots=4)
    plan = {
        "goal": "write a number divisible by 7",
        "steps": [{
            "id": "n", "n": 4, "join": "vote",
            "exec": sh("echo $(( (HIVE_CANDIDATE + 1) * 7 - (HIVE_CANDIDATE % 2) ))"),  # 7, 13, 21, 27
            "verify": sh("read n; [ $((n % 7)) -eq 0 ]"),
        }],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    code, r = submit_wait(url, str(path))
    assert code == 0, r["goal"]
    cands = r["steps"][0]["candidates"]
    assert [c["verified"] for c in cands] == [True, False, True, False]
    assert r["answer"] == "21"  # 7 and 21 tie at one vote; the smaller string wins, whatever finished first


def test_plans_that_cannot_run_are_refused_with_the_reason(procs, tmp_path):
    url = hive_with(tmp_path, procs)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"goal": "g", "steps": [{"id": "b", "inputs": ["a"]}]}))
    r = hive("submit", str(bad), "--honeycomb", url)
    assert r.returncode == 65 and "input 'a' is not an earlier step" in r.stderr
    bad.write_text(json.dumps({"goal": "g", "steps": [{"id": "a", "prompt": "{{goall}}"}]}))
    r = hive("submit", str(bad), "--honeycomb", url)
    assert r.returncode == 65 and "unknown placeholder {{goall}}" in r.stderr
    assert json.loads(hive("goals", "--json", "--honeycomb", url).stdout) == []


def test_honeycombd_started_outside_the_repository_plans_a_goal_in_words_with_its_built_in_prompts(procs, tmp_path,
                                                                                                   tiny_model):
    # As the README runs it: from wherever the user is, no --prompts, no Config/prompts in sight.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    hc = start_daemon(procs, cwd=elsewhere)
    url = hc.url
    assert "event=prompts_loaded" in hc.startup_log and "dir=builtin" in hc.startup_log, hc.startup_log
    model_drone(procs, url, tiny_model, "core", "core")
    model_drone(procs, url, tiny_model, "edge", "edge")
    model_drone(procs, url, tiny_model, "worker", "worker")
    code, r = submit_wait(url, "Plan a picnic for six people", "--tier", "edge", "--critic-tier", "worker", "--n", "1",
                          "--max-tokens", "32", "--budget-tokens", "40000", "--max-core-calls", "4")
    assert code == 0 and r["goal"]["state"] == "succeeded", r["goal"]
    plan = next(s for s in r["steps"] if s["id"] == "plan")
    assert plan["role"] == "decompose" and plan["state"] == "succeeded" and plan["candidates"][0]["tier"] == "core"


def test_a_prompts_directory_replaces_built_in_frames_and_a_bad_frame_stops_honeycombd(procs, tmp_path):
    own = tmp_path / "prompts"
    own.mkdir()
    (own / "explore.txt").write_text("Explore, briefly: {{task}}")
    lines = start_daemon(procs, "--prompts", str(own)).startup_log.splitlines()
    assert any("event=prompts_loaded" in l and "from_dir=explore " in l for l in lines), lines
    # A bad frame is a configuration error at start, not a surprise at run time.
    (own / "explore.txt").write_text("{{nonsense}}")
    hc = procs.start([HONEYCOMBD, "--listen", "127.0.0.1:0", "--prompts", str(own)])
    assert hc.wait(timeout=10) == 78
    assert "unknown placeholder {{nonsense}}" in hc.stderr.read()


def test_a_plan_survives_honeycombd_sigkill_mid_step(procs, tmp_path):
    data = tmp_path / "data"
    hc = start_honeycombd(procs, tmp_path, data=data, extra={"prompts_dir": PROMPTS})
    url = hc.url
    start_drones(procs, url, 2, slots=2)
    plan = {
        "goal": "two steps",
        "steps": [
            {"id": "a", "n": 2, "join": "any", "exec": sh("sleep 0.3; echo first")},
            {"id": "b", "inputs": ["a"], "prompt": "after {{steps.a}}", "exec": sh("grep -o 'after first'")},
        ],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    sub = subprocess.Popen([HIVE, "submit", str(path), "--wait", "--json", "--honeycomb", url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    def step_a_running():
        tasks = hive("tasks", "g1", "--json", "--honeycomb", url)
        return tasks.returncode == 0 and any(t["state"] in ("leased", "running") for t in json.loads(tasks.stdout))
    wait_until("step a of g1 leased or running", step_a_running)
    hc.send_signal(signal.SIGKILL)
    hc.wait()
    start_honeycombd(procs, tmp_path, data=data, extra={"prompts_dir": PROMPTS}, port=hc.port)
    out, err = sub.communicate(timeout=60)
    assert sub.returncode == 0, err
    r = json.loads(out)
    assert r["answer"] == "after first"
    assert [s["state"] for s in r["steps"]] == ["succeeded", "succeeded"]
