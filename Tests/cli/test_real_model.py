"""The real model end to end: honeycombd and a drone serving Gemma 3 270M (base, `make model`), a few-shot completion
prompt a 270M base model gets right, real token counts in the ledger, and a plan step rendered with the completion
frame because the drone said its model is a completion model. Skipped when the model is not cached."""
import json, os

import pytest

from conftest import DRONE, ROOT, hive, start_honeycombd, wait_for_log

GEMMA = os.environ.get("HIVE_GEMMA", os.path.expanduser("~/.cache/hive/models/gemma-3-270m-q4_k_m.gguf"))
pytestmark = pytest.mark.skipif(not os.path.exists(GEMMA), reason=f"the real model is not cached ({GEMMA}): run make model")

CAPITALS = ("Q: What is the capital of Italy?\nA: Rome\n\n"
            "Q: What is the capital of Japan?\nA: Tokyo\n\n"
            "Q: What is the capital of France?\nA:")


@pytest.fixture
def gemma_hive(procs):
    url = start_honeycombd(procs, "--prompts", os.path.join(ROOT, "Config", "prompts")).url
    d = procs.start([DRONE, "--honeycomb", url, "--model", GEMMA, "--slots", "1", "--ctx", "1024", "--name", "gemma"])
    lines = wait_for_log(d, "event=joined", timeout=60)
    loaded = next(l for l in lines if "event=model_loaded" in l)
    assert 'name="Gemma 3 270m" arch=gemma3' in loaded and "chat_template=false prompt_format=completion" in loaded
    return url


def test_gemma_completes_a_few_shot_prompt_and_the_ledger_counts_its_real_tokens(gemma_hive):
    url = gemma_hive
    drones = json.loads(hive("drones", "--json", "--honeycomb", url).stdout)
    assert drones[0]["prompt_format"] == "completion" and "model:Gemma 3 270m" in drones[0]["capabilities"]
    r = hive("submit", "--prompt", CAPITALS, "--temperature", "0", "--max-tokens", "8", "--stop", "\n", "--wait", "--json",
             "--honeycomb", url, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    task = json.loads(r.stdout)["tasks"][0]
    assert task["state"] == "succeeded"
    assert task["output"].strip() == "Paris"
    usage = task["usage"]
    assert usage["model"] == "Gemma 3 270m"
    # Gemma's tokenizer: three short lines of Q/A are a few dozen tokens (BOS included), and " Paris" is one or two.
    assert 25 <= usage["prompt_tokens"] <= 80 and 1 <= usage["generated_tokens"] <= 8
    assert usage["prompt_ms"] > 0 and usage["generation_ms"] >= 0
    goal = json.loads(r.stdout)["goal"]["goal"]
    ledger = json.loads(hive("result", goal, "--json", "--honeycomb", url).stdout)["ledger"]
    assert ledger["total"]["calls"] == 1
    assert ledger["total"]["prompt_tokens"] == usage["prompt_tokens"]
    assert ledger["by_drone"]["gemma"]["generated_tokens"] == usage["generated_tokens"]


def test_a_plan_step_reaches_gemma_through_the_completion_frame(gemma_hive, tmp_path):
    url = gemma_hive
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({
        "goal": "Make a geography quiz.",
        "steps": [{"id": "ask", "prompt": "What is the capital of France?", "n": 1, "join": "any", "temperature": 0,
                   "max_tokens": 8, "timeout_ms": 240000}],
    }))
    r = hive("submit", str(plan), "--wait", "--json", "--honeycomb", url, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["goal"]["state"] == "succeeded"
    # The few-shot frame ends at "Answer:" and stops at the line's end: the answer alone, not a chat reply.
    call = next(t for t in out["tasks"] if t.get("role") == "explore")
    assert call["output"].strip() == "Paris", call
    assert call["usage"]["prompt_tokens"] > 100  # the frame's examples went with it
