"""Core drones fronting an OpenAI-compatible API: a real server nobody here wrote (llama-cpp-python's, serving
the test GGUF on our llama.cpp build), and a scripted provider for the failures a real one won't make on demand."""
import json, os, re, sys, time

import pytest

from conftest import DRONE, JSONPostServer, hive, require_python_module, start_honeycombd, wait_for_log

LLAMA_LIB = os.environ.get("LLAMA_LIB_DIR", os.path.expanduser("~/.cache/hive/llama-0.3.36-x86_64/lib"))


def start_llama_server(procs, model):
    """llama-cpp-python's OpenAI-compatible server on port 0; its base URL, from uvicorn's startup line (which
    reports the port it bound)."""
    env = {**os.environ, "LD_LIBRARY_PATH": LLAMA_LIB, "LLAMA_CPP_LIB_PATH": LLAMA_LIB}
    p = procs.start([sys.executable, "-m", "llama_cpp.server", "--model", model, "--host", "127.0.0.1",
                     "--port", "0", "--n_ctx", "512"], env=env)
    line = wait_for_log(p, "Uvicorn running on ", timeout=60)[-1]
    return re.search(r"(http://127\.0\.0\.1:\d+)", line).group(1)


def hive_with_api_drone(procs, base_url, extra=(), api="openai"):
    url = start_honeycombd(procs).url
    d = procs.start([DRONE, "--honeycomb", url, "--tier", "core", "--api", api, "--base-url", base_url,
                     "--api-model", "tiny", *extra], env={**os.environ, "TEST_API_KEY": "sk-test-secret"})
    lines = wait_for_log(d, "event=joined")
    assert not any("sk-test-secret" in l for l in lines), "the API key must never be logged"
    return url


def submit(url, *args):
    r = hive("submit", "--prompt", "hello", "--tier", "core", "--wait", "--json", *args, "--honeycomb", url, timeout=120)
    assert r.stdout, r.stderr
    return r.returncode, json.loads(r.stdout)["tasks"][0]


def test_real_openai_compatible_server(procs, tiny_model):
    require_python_module("llama_cpp", package="llama-cpp-python[server]")
    server = start_llama_server(procs, tiny_model)
    url = hive_with_api_drone(procs, server, ("--api-key-env", "TEST_API_KEY"))
    code, task = submit(url, "--max-tokens", "8", "--seed", "3")
    assert code == 0 and task["state"] == "succeeded", task
    assert task["usage"]["prompt_tokens"] > 0 and task["usage"]["generated_tokens"] > 0
    assert task["usage"]["model"]


def test_real_server_streaming(procs, tiny_model):
    require_python_module("llama_cpp", package="llama-cpp-python[server]")
    server = start_llama_server(procs, tiny_model)
    url = hive_with_api_drone(procs, server, ("--api-stream",))
    code, task = submit(url, "--max-tokens", "8", "--seed", "3", "--temperature", "0")
    assert code == 0 and task["state"] == "succeeded", task
    assert task["output"] and task["usage"]["generated_tokens"] > 0
    # The same greedy completion without streaming gives the same text.
    url2 = hive_with_api_drone(procs, server)
    code, plain = submit(url2, "--max-tokens", "8", "--seed", "3", "--temperature", "0")
    assert plain["output"] == task["output"]


class ScriptedProvider(JSONPostServer):
    """A test double for provider failures: answers each POST with the next scripted (status, headers, body)."""

    def __init__(self, script):
        self.script = list(script)
        self.requests = []
        super().__init__()

    def respond(self, path, headers, body):
        self.requests.append((path, headers, body))
        return self.script.pop(0) if self.script else (500, {}, {"error": {"message": "script ran out"}})


OK = (200, {}, {"model": "tiny", "choices": [{"message": {"role": "assistant", "content": "fine"}}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 1}})


def test_rate_limit_is_retried_after_retry_after(procs):
    p = ScriptedProvider([(429, {"Retry-After": "1"}, {"error": {"message": "slow down"}}), OK])
    url = hive_with_api_drone(procs, p.url, ("--api-key-env", "TEST_API_KEY"))
    start = time.monotonic()
    code, task = submit(url)
    assert code == 0 and task["output"] == "fine" and task["attempts"] == 1
    assert time.monotonic() - start >= 1.0, "Retry-After was honoured"
    path, headers, body = p.requests[-1]
    assert path == "/v1/chat/completions" and headers["authorization"] == "Bearer sk-test-secret"
    assert body["messages"][-1] == {"role": "user", "content": "hello"} and body["model"] == "tiny"


def test_request_carries_sampling_system_and_json_schema(procs, tmp_path):
    # The answer must match the schema too: honeycombd checks it (a plain "fine" would fail the task).
    p = ScriptedProvider([(200, {}, {"model": "tiny", "choices": [{"message": {"role": "assistant", "content": '{"ok": true}'}}],
                                     "usage": {"prompt_tokens": 5, "completion_tokens": 4}})])
    url = hive_with_api_drone(procs, p.url)
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"ok": {"type": "boolean"}}}))
    code, task = submit(url, "--system", "be terse", "--max-tokens", "7", "--temperature", "0.5", "--seed", "9",
                        "--stop", "END", "--json-schema", str(schema))
    assert code == 0
    body = p.requests[-1][2]
    assert body["messages"][0] == {"role": "system", "content": "be terse"}
    assert (body["max_tokens"], body["temperature"], body["seed"], body["stop"]) == (7, 0.5, 9, ["END"])
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["properties"]["ok"] == {"type": "boolean"}


def test_client_errors_are_permanent_with_the_providers_message(procs):
    p = ScriptedProvider([(400, {}, {"error": {"message": "model 'tiny' does not exist"}})] * 3)
    url = hive_with_api_drone(procs, p.url)
    code, task = submit(url, "--max-attempts", "3")
    assert code == 1 and task["state"] == "dead" and task["attempts"] == 1
    assert "model 'tiny' does not exist" in task["error"]


def test_server_errors_are_retried_then_fail(procs):
    p = ScriptedProvider([(503, {}, {"error": {"message": "overloaded"}})] * 2 + [OK])
    url = hive_with_api_drone(procs, p.url)
    code, task = submit(url, "--max-attempts", "3")
    assert code == 0 and task["attempts"] == 3 and task["output"] == "fine"


# Anthropic's Messages API, in its recorded format (no real Anthropic server can run here).
MESSAGE = (200, {}, {"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-test",
                     "content": [{"type": "text", "text": "fine "}, {"type": "text", "text": "indeed"}],
                     "stop_reason": "end_turn", "usage": {"input_tokens": 12, "output_tokens": 3}})


def test_anthropic_messages_request_and_usage(procs):
    p = ScriptedProvider([MESSAGE])
    url = hive_with_api_drone(procs, p.url, ("--api-key-env", "TEST_API_KEY"), api="anthropic")
    code, task = submit(url, "--system", "be terse", "--max-tokens", "20", "--stop", "END")
    assert code == 0 and task["output"] == "fine indeed"
    assert task["usage"]["model"] == "claude-test"
    assert (task["usage"]["prompt_tokens"], task["usage"]["generated_tokens"]) == (12, 3)
    path, headers, body = p.requests[-1]
    assert path == "/v1/messages"
    assert headers["x-api-key"] == "sk-test-secret" and headers["anthropic-version"] == "2023-06-01"
    assert body["system"] == "be terse" and body["max_tokens"] == 20 and body["stop_sequences"] == ["END"]
    assert body["messages"] == [{"role": "user", "content": "hello"}]


def test_anthropic_overloaded_is_retried_and_invalid_requests_are_permanent(procs):
    overloaded = (529, {}, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    p = ScriptedProvider([overloaded, MESSAGE])
    url = hive_with_api_drone(procs, p.url, api="anthropic")
    code, task = submit(url, "--max-attempts", "2")
    assert code == 0 and task["attempts"] == 2
    bad = ScriptedProvider([(400, {}, {"type": "error", "error": {"type": "invalid_request_error",
                                                                  "message": "max_tokens: must be positive"}})])
    url2 = hive_with_api_drone(procs, bad.url, api="anthropic")
    code, task = submit(url2, "--max-attempts", "3")
    assert code == 1 and task["attempts"] == 1 and "max_tokens: must be positive" in task["error"]
