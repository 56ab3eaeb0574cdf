"""Drones serving a GGUF model through llama.cpp: hive submit --prompt, usage, bad model files."""
import json, subprocess

import pytest

from conftest import DRONE, hive, start_honeycombd, wait_for_log, wait_until


def test_prompt_runs_on_a_model_drone_with_usage(procs, tiny_model):
    url = start_honeycombd(procs).url
    d = procs.start([DRONE, "--honeycomb", url, "--model", tiny_model, "--slots", "2", "--ctx", "256"])
    lines = wait_for_log(d, "event=joined")
    assert any("event=model_loaded name=hive-test-tiny arch=llama" in l for l in lines)
    hashed = "".join(wait_for_log(d, "event=model_hashed"))
    sha = hashed.split("sha256=")[1].split()[0]
    assert len(sha) == 64
    # The drone joined before hashing; its second hello brings the hash into the registry.
    wait_until(f"the registry to list model-sha256:{sha}", lambda: f"model-sha256:{sha}" in
               json.loads(hive("drones", "--json", "--honeycomb", url).stdout)[0]["capabilities"], timeout=10)
    r = hive("submit", "--prompt", "the hive", "--max-tokens", "16", "--seed", "5", "--wait", "--json", "--honeycomb", url)
    assert r.returncode == 0, r.stderr
    task = json.loads(r.stdout)["tasks"][0]
    assert task["state"] == "succeeded"
    usage = task["usage"]
    assert usage["model"] == "hive-test-tiny"
    assert usage["prompt_tokens"] > 0 and 0 < usage["generated_tokens"] <= 16
    # Same seed, same text: the whole path (CLI → honeycombd → drone → llama.cpp) is deterministic.
    again = json.loads(hive("submit", "--prompt", "the hive", "--max-tokens", "16", "--seed", "5", "--wait", "--json",
                            "--honeycomb", url).stdout)["tasks"][0]
    assert again["output"] == task["output"]
    drones = json.loads(hive("drones", "--json", "--honeycomb", url).stdout)
    caps = drones[0]["capabilities"]
    assert "backend:model" in caps and "engine:llama.cpp" in caps and "model:hive-test-tiny" in caps


def test_a_prompt_waits_for_a_model_drone(procs, tiny_model):
    url = start_honeycombd(procs).url
    plain = procs.start([DRONE, "--honeycomb", url])  # no model: must not receive model tasks
    wait_for_log(plain, "event=joined")
    r = hive("submit", "--prompt", "x", "--deadline-ms", "800", "--wait", "--json", "--honeycomb", url)
    assert r.returncode == 1
    assert json.loads(r.stdout)["goal"]["reason"] == "deadline exceeded (budget.deadline_ms)"


@pytest.mark.parametrize("content,message", [
    (b"definitely not a model", "is not a GGUF model"),
    (None, "does not exist"),
])
def test_bad_model_files_stop_the_drone_with_a_clear_error(tmp_path, content, message):
    path = tmp_path / "m.gguf"
    if content is not None:
        path.write_bytes(content)
    r = subprocess.run([DRONE, "--model", str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 65
    assert message in r.stderr


def test_truncated_model_is_refused(tmp_path, tiny_model):
    data = open(tiny_model, "rb").read()
    path = tmp_path / "cut.gguf"
    path.write_bytes(data[: len(data) // 2])
    r = subprocess.run([DRONE, "--model", str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 65
    assert "llama.cpp could not load" in r.stderr


def test_json_schema_output_parses(procs, tiny_model, tmp_path):
    url = start_honeycombd(procs).url
    d = procs.start([DRONE, "--honeycomb", url, "--model", tiny_model, "--ctx", "512"])
    wait_for_log(d, "event=joined")
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"type": "object", "properties": {
        "verdict": {"enum": ["pass", "fail"]}, "score": {"type": "integer"}}}))
    r = hive("submit", "--prompt", "judge this", "--json-schema", str(schema), "--max-tokens", "64", "--wait", "--json",
             "--honeycomb", url)
    assert r.returncode == 0, r.stderr
    answer = json.loads(json.loads(r.stdout)["tasks"][0]["output"])
    assert answer["verdict"] in ("pass", "fail") and isinstance(answer["score"], int)


def test_token_budget_admits_a_call_only_if_its_worst_case_fits(procs, tiny_model, tmp_path):
    url = start_honeycombd(procs).url
    d = procs.start([DRONE, "--honeycomb", url, "--model", tiny_model, "--slots", "2", "--ctx", "256"])
    wait_for_log(d, "event=joined")
    call = {"kind": "model", "input": {"prompt": "the hive", "max_tokens": 16, "seed": 1}}
    worst = len("the hive") + 64 + 16
    # Room for exactly one worst case: the first call runs; once it has spent anything, the second cannot fit.
    plan = {"budget": {"max_tokens": worst}, "root": {"kind": "fork", "children": [call, call]}}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    r = hive("submit", str(tmp_path / "plan.json"), "--wait", "--json", "--honeycomb", url, timeout=60)
    result = json.loads(r.stdout)
    assert r.returncode != 0 and result["goal"]["state"] == "failed"
    assert result["goal"]["reason"].startswith("budget exhausted: tokens (spent ")
    states = sorted(t["state"] for t in result["tasks"])
    assert states == ["cancelled", "succeeded"], states
    assert 0 < result["ledger"]["total"]["prompt_tokens"] + result["ledger"]["total"]["generated_tokens"] <= worst
    assert result["goal"]["budget"]["max_tokens"] == worst and result["goal"]["tokens_reserved"] == 0
    assert result["goal"]["tokens_spent"] == result["ledger"]["total"]["prompt_tokens"] + result["ledger"]["total"]["generated_tokens"]
    plain = hive("result", result["goal"]["goal"], "--honeycomb", url).stdout
    assert f"reserved of budget {worst}" in plain
    # A model task without max_tokens has no worst case: refused at submission, nothing runs.
    plan["root"]["children"][1] = {"kind": "model", "input": {"prompt": "the hive"}}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    r = hive("submit", str(tmp_path / "plan.json"), "--honeycomb", url)
    assert r.returncode != 0 and "without input.max_tokens" in r.stderr
