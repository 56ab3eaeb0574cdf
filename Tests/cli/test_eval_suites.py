"""`hive eval --suite facts|sums`: seeded few-shot tasks scored against the truth, through real honeycombd and
drones. The stand-ins are the oracle test double on exec drones and a generated random-weight model (what reaches
a model drone: the prompt as written, the temperature, the stop string); a short run with the real model when
Gemma 3 270M is cached."""
import json, os, sys

import pytest

from conftest import DRONE, ROOT, hive, wait_for_log, wait_until
from test_control_plane import start_drones, start_honeycombd

sys.path.insert(0, os.path.join(ROOT, "Tests", "bench"))
from task_tap import TaskTap  # noqa: E402

ORACLE = "/bin/sh " + os.path.join(ROOT, "Tests", "bench", "oracle_model.sh")
GEMMA = os.environ.get("HIVE_GEMMA", os.path.expanduser("~/.cache/hive/models/gemma-3-270m-q4_k_m.gguf"))
SUMS_SHOTS = "12 + 7 = 19\n35 + 8 = 43\n21 + 46 = 67\n58 + 27 = 85\n"


def run_eval(url, *args, timeout=120):
    r = hive("eval", *args, "--json", "--honeycomb", url, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def result(url, goal):
    return json.loads(hive("result", goal, "--json", "--honeycomb", url).stdout)


def exec_hive(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    start_drones(procs, url, 2, slots=4)
    return url


def test_facts_are_seeded_scored_by_the_table_and_joined_by_vote(procs, tmp_path):
    url = exec_hive(procs, tmp_path)
    right = run_eval(url, "--suite", "facts", "--count", "5", "--seed", "3", "--n", "3", "--explorer", f"{ORACLE} --p 1")
    again = run_eval(url, "--suite", "facts", "--count", "5", "--seed", "3", "--n", "3", "--explorer", f"{ORACLE} --p 0")
    other = run_eval(url, "--suite", "facts", "--count", "5", "--seed", "4", "--n", "1", "--explorer", f"{ORACLE} --p 1")
    truth = [r["expected"] for r in right["results"]]
    assert truth == [r["expected"] for r in again["results"]] and truth != [r["expected"] for r in other["results"]]
    assert right["solved"] == 5 and right["join"] == "vote" and right["verified"] is False and right["checks"] == 0
    assert all(r["answer"] == r["expected"] for r in right["results"])
    assert again["solved"] == 0
    step = result(url, right["results"][0]["goal"])["steps"][0]
    # The vote decides as soon as no open candidate could change it: two of three agreeing is enough.
    assert step["join"] == "vote" and sum(1 for c in step["candidates"] if c["accepted"]) >= 2
    # A shared misconception (every call answers alike, wrongly): the vote is unanimous and still scored wrong.
    shared = run_eval(url, "--suite", "facts", "--count", "3", "--seed", "3", "--n", "3",
                      "--explorer", f"{ORACLE} --p 1 --corr 1")
    assert shared["solved"] == 0 and all(r["state"] == "succeeded" for r in shared["results"])


def test_sums_candidates_are_checked_by_a_program_on_an_exec_drone(procs, tmp_path):
    url = exec_hive(procs, tmp_path)
    right = run_eval(url, "--suite", "sums", "--count", "4", "--n", "2", "--explorer", f"{ORACLE} --p 1")
    assert right["solved"] == 4 and right["verified"] is True and right["join"] == "any"
    # Candidate calls: at least the one per task that passed, at most all 8 (the first verified one cancels the
    # other candidate, which may not have started).
    assert right["checks"] >= 4 and right["checks"] + 4 <= right["calls"] <= right["checks"] + 8, right
    step = result(url, right["results"][0]["goal"])["steps"][0]
    winner = next(c for c in step["candidates"] if c["accepted"])
    assert winner["verified"] is True
    wrong = run_eval(url, "--suite", "sums", "--count", "4", "--n", "2", "--explorer", f"{ORACLE} --p 0")
    assert wrong["solved"] == 0 and all(r["state"] == "failed" for r in wrong["results"])
    r = result(url, wrong["results"][0]["goal"])
    assert all(c["verified"] is False and c["rejection"].startswith("check failed") for c in r["steps"][0]["candidates"])
    check = next(t for t in r["tasks"] if t.get("role") == "verify")
    assert check["exit_code"] == 1 and " is not " in check["output"]
    # Without the check, the same candidates are joined by vote and nothing else runs.
    unchecked = run_eval(url, "--suite", "sums", "--count", "4", "--n", "3", "--no-verify", "--explorer", f"{ORACLE} --p 1")
    assert unchecked["join"] == "vote" and unchecked["checks"] == 0 and unchecked["solved"] == 4
    assert hive("eval", "--suite", "sums", "--temperature", "-1", "--honeycomb", url).returncode != 0


def tapped(tap, goals, expected, deadline=10):
    return wait_until(f"{expected} assignments of {goals} on the tap",
                      lambda: (lambda seen: seen if len(seen) >= expected else None)(tap.for_goals(goals)), deadline)


def test_the_few_shot_prompt_and_the_temperature_reach_the_model_drone(procs, tmp_path, tiny_base_model):
    hc = start_honeycombd(procs, tmp_path)
    port, url = hc.port, hc.url
    d = procs.start([DRONE, "--honeycomb", url, "--model", tiny_base_model, "--slots", "4", "--ctx", "256", "--name", "tiny"])
    wait_for_log(d, "event=joined", timeout=60)
    tap = TaskTap(port)
    try:
        sampled = run_eval(url, "--suite", "sums", "--count", "2", "--n", "3", "--temperature", "1", "--no-verify",
                           "--max-tokens", "4")
        goals = [r["goal"] for r in sampled["results"]]
        seen = tapped(tap, goals, 6)
        assert sampled["temperature"] == 1 and len(seen) == 6
        for a in seen:
            i = a["input"]
            assert i["temperature"] == 1 and i["stop"] == ["\n"] and i["max_tokens"] == 4
            # The completion drone gets the few-shot prompt as written: no role frame around it.
            assert i["prompt"].startswith(SUMS_SHOTS) and i["prompt"].endswith(" =") and "Task:" not in i["prompt"]
        assert {a["input"]["seed"] for a in seen if a["goal"] == goals[0]} == {1, 2, 3}  # candidates sample apart
        greedy = run_eval(url, "--suite", "facts", "--count", "2", "--temperature", "0", "--max-tokens", "4")
        seen = tapped(tap, [r["goal"] for r in greedy["results"]], 2)
        assert all(a["input"]["temperature"] == 0 and a["input"]["prompt"].endswith("?\nA:") for a in seen)
        assert greedy["tokens"] > 0 and greedy["generated_tokens"] > 0
    finally:
        tap.close()


@pytest.mark.skipif(not os.path.exists(GEMMA), reason=f"the real model is not cached ({GEMMA}): run make model")
def test_gemma_answers_facts_and_verified_sums(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path, extra={"task_timeout_ms": 240000}).url
    d = procs.start([DRONE, "--honeycomb", url, "--model", GEMMA, "--slots", "8", "--ctx", "256", "--name", "gemma"])
    wait_for_log(d, "event=joined", timeout=60)
    start_drones(procs, url, 1, slots=2)
    facts = run_eval(url, "--suite", "facts", "--count", "4", "--temperature", "0", timeout=300)
    # Gemma 3 270M knows most capitals and symbols; the table decides, and answers are one line each.
    assert facts["solved"] >= 1 and facts["generated_tokens"] > 0
    assert all("\n" not in (r["answer"] or "").strip() for r in facts["results"])
    sums = run_eval(url, "--suite", "sums", "--count", "3", "--n", "4", "--temperature", "1", timeout=300)
    assert sums["checks"] >= 3
    # A checked answer is a right answer: whatever succeeded was verified, and scored correct.
    assert all(r["correct"] == (r["state"] == "succeeded") for r in sums["results"])
