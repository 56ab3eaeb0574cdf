"""Model drones and bad input: chat vs completion models (--prompt-format), a model that does not fit memory (the
drone refuses to start, with the numbers), a prompt longer than the context (the task fails with the sizes; the
drone keeps serving)."""
import json, resource, subprocess

import pytest

from conftest import DRONE, hive, start_honeycombd, wait_for_log


@pytest.fixture
def models(tiny_model, tiny_base_model):
    return {"chat": tiny_model, "base": tiny_base_model}


def honeycombd(procs):
    return start_honeycombd(procs).url


def model_drone(procs, url, model, name, *extra):
    d = procs.start([DRONE, "--honeycomb", url, "--model", model, "--ctx", "256", "--name", name, *extra])
    lines = wait_for_log(d, "event=joined")
    return next(l for l in lines if "event=model_loaded" in l)


def test_drones_report_their_prompt_format_and_a_completion_model_gets_no_chat_template(procs, models):
    url = honeycombd(procs)
    assert "chat_template=true prompt_format=chat" in model_drone(procs, url, models["chat"], "instruct")
    assert "chat_template=false prompt_format=completion" in model_drone(procs, url, models["base"], "base")
    # An instruct model can be prompted as a completion model too (its template then never applies).
    assert "chat_template=true prompt_format=completion" in model_drone(procs, url, models["chat"], "forced",
                                                                        "--prompt-format", "completion")
    drones = {d["name"]: d for d in json.loads(hive("drones", "--json", "--honeycomb", url).stdout)}
    assert {n: d["prompt_format"] for n, d in drones.items()} == {"instruct": "chat", "base": "completion", "forced": "completion"}
    # The same prompt on an instruct model prompted each way: the chat template's role markers (ChatML here) cost
    # tokens only where it applies.
    tokens = {}
    for fmt in ("chat", "completion"):
        one = honeycombd(procs)
        model_drone(procs, one, models["chat"], fmt, "--prompt-format", fmt)
        r = hive("submit", "--prompt", "the hive", "--max-tokens", "2", "--seed", "1", "--wait", "--json", "--honeycomb", one)
        assert r.returncode == 0, r.stderr
        tokens[fmt] = json.loads(r.stdout)["tasks"][0]["usage"]["prompt_tokens"]
    assert tokens["completion"] < tokens["chat"], tokens


def test_prompt_format_flags_are_checked(models):
    r = subprocess.run([DRONE, "--model", models["base"], "--prompt-format", "chat"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 65
    assert "--prompt-format chat needs a chat template, and " + models["base"] + " has none" in r.stderr
    r = subprocess.run([DRONE, "--prompt-format", "instruct"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 64 and "--prompt-format takes auto, chat or completion, not 'instruct'" in r.stderr
    r = subprocess.run([DRONE, "--prompt-format", "completion"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 64 and "--prompt-format needs --model" in r.stderr


def sparse_gguf(path, size):
    with open(path, "wb") as f:
        f.write(b"GGUF")
        f.truncate(size)
    return str(path)


def test_a_model_larger_than_the_memory_available_stops_the_drone_with_the_numbers(tmp_path):
    huge = sparse_gguf(tmp_path / "huge.gguf", 1 << 40)  # 1 TiB, sparse: no disk is used
    r = subprocess.run([DRONE, "--model", huge], capture_output=True, text=True, timeout=30)
    assert r.returncode == 69
    assert f"--model {huge} is 1048576 MiB, but only " in r.stderr and " MiB of memory is available (" in r.stderr
    assert "llama.cpp" not in r.stderr  # refused before loading


def test_the_address_space_limit_counts_too(tmp_path):
    model = sparse_gguf(tmp_path / "big.gguf", 3 << 30)
    cap = 2 << 30

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    r = subprocess.run([DRONE, "--model", model], capture_output=True, text=True, timeout=30, preexec_fn=limit)
    assert r.returncode == 69, r.stderr
    assert f"--model {model} is 3072 MiB, but only " in r.stderr
    assert "(RLIMIT_AS 2048 MiB, " in r.stderr and " MiB already mapped)" in r.stderr
    mapped = int(r.stderr.split(" MiB already mapped")[0].rsplit(" ", 1)[1])
    assert 0 < mapped < 2048


def test_a_prompt_longer_than_the_context_fails_the_task_with_the_sizes_not_the_drone(procs, models):
    url = honeycombd(procs)
    d = procs.start([DRONE, "--honeycomb", url, "--model", models["chat"], "--ctx", "64", "--name", "small"])
    wait_for_log(d, "event=joined")
    r = hive("submit", "--prompt", "the hive " * 100, "--max-tokens", "4", "--max-attempts", "1", "--wait", "--json",
             "--honeycomb", url, timeout=60)
    assert r.returncode != 0
    task = json.loads(r.stdout)["tasks"][0]
    assert task["state"] == "dead"
    error = task["error"]
    # The sizes: the prompt's tokens and the context's (the wording around them may change with the engine).
    assert "the prompt is " in error and " tokens; " in error and "context holds 64 (raise --ctx or shorten it)" in error
    assert int(error.split("the prompt is ")[1].split()[0]) > 64
    # The drone is still there and serves the next prompt.
    r = hive("submit", "--prompt", "the hive", "--max-tokens", "4", "--wait", "--json", "--honeycomb", url, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["tasks"][0]["drone"] == "small"
    assert d.poll() is None
