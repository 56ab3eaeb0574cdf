"""`hive eval`: seeded tasks through real honeycombd and drones, with the oracle test double as the model."""
import json, os

from conftest import ROOT, hive
from test_control_plane import start_drones, start_honeycombd

ORACLE = "/bin/sh " + os.path.join(ROOT, "Tests", "bench", "oracle_model.sh")


def run_eval(url, *args):
    r = hive("eval", *args, "--json", "--honeycomb", url, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_eval_scores_arithmetic_votes_against_the_truth(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    start_drones(procs, url, 2, slots=4)
    perfect = run_eval(url, "--count", "6", "--n", "3", "--explorer", f"{ORACLE} --p 1")
    assert perfect["solved"] == 6 and perfect["accuracy"] == 1.0
    assert all(r["answer"] == r["expected"] for r in perfect["results"])
    hopeless = run_eval(url, "--count", "6", "--n", "3", "--explorer", f"{ORACLE} --p 0")
    assert hopeless["solved"] == 0  # the scoring compares with the truth, not with what the hive agreed on
    assert perfect["calls"] >= 12 and perfect["core_calls"] == 0


def test_eval_code_tasks_are_checked_by_hidden_tests_on_exec_drones(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    start_drones(procs, url, 2, slots=4)
    right = run_eval(url, "--suite", "code", "--count", "4", "--explorer", f"{ORACLE} --p 1")
    assert right["solved"] == 4
    wrong = run_eval(url, "--suite", "code", "--count", "4", "--explorer", f"{ORACLE} --p 0")
    assert wrong["solved"] == 0
    goal = wrong["results"][0]["goal"]
    r = json.loads(hive("result", goal, "--json", "--honeycomb", url).stdout)
    cand = r["steps"][0]["candidates"][0]
    assert cand["verified"] is False and cand["rejection"].startswith("check failed")


def test_eval_escalates_split_votes_to_the_core_tier(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    start_drones(procs, url, 1, slots=6, tier="edge")
    start_drones(procs, url, 1, slots=1, tier="core")
    # Edge voters never agree (p = 0 scatters wrong answers); the core arbiter is always right.
    r = run_eval(url, "--count", "3", "--n", "3", "--tier", "edge", "--min-votes", "2", "--escalate", "core",
                 "--explorer", f"{ORACLE} --p 0 --arbiter-p 1")
    assert r["solved"] == 3 and r["core_calls"] == 3 and r["core_per_solved"] == 1.0
    assert all(x["reforks"] == 1 for x in r["results"])
