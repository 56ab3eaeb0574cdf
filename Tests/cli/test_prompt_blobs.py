"""Prompts of any size (Docs/ARCHITECTURE.md, "Inputs of any size"): `hive submit --prompt-file FILE` uploads a
prompt over 16 KiB as a blob, the goal names it (`prompt_blob` + `size`), and the drone resolves it to the text
before its model backend runs. Real honeycombd, drone and hive processes; the provider is the scripted
OpenAI-compatible test double (it records what it was sent)."""
import asyncio, hashlib, json, os, subprocess

from conftest import DRONE, HIVE, hive, wait_for_log
from test_blobs import upload_parts
from test_control_plane import start_honeycombd, submit_wait
from test_external_brains import OK, ScriptedProvider


def hive_with_openai_drone(procs, tmp_path, provider):
    hc = start_honeycombd(procs, tmp_path, data=tmp_path / "data")
    d = procs.start([DRONE, "--honeycomb", hc.url, "--tier", "core", "--api", "openai", "--base-url", provider.url,
                     "--api-model", "tiny"])
    wait_for_log(d, "event=joined")
    return hc.url


def submit_prompt_file(url, path, stdin=None):
    e = {k: v for k, v in os.environ.items() if k != "HIVE_URL"}
    r = subprocess.run([HIVE, "submit", "--prompt-file", path, "--tier", "core", "--wait", "--json", "--honeycomb", url],
                       capture_output=True, timeout=120, env=e, input=stdin)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def test_a_3_mib_prompt_reaches_the_provider_whole_through_a_blob(procs, tmp_path):
    provider = ScriptedProvider([OK, OK])
    url = hive_with_openai_drone(procs, tmp_path, provider)
    # Over the bus's 1 MiB max_payload: it cannot travel inside the goal's JSON.
    line = "The quick brown fox jumps over the lazy dog; ünïcödé stays text.\n"
    text = line * ((3 << 20) // len(line.encode())) + "MARKER-AT-THE-END"
    path = tmp_path / "prompt.txt"
    path.write_text(text, encoding="utf-8")
    data = path.read_bytes()
    assert len(data) > (3 << 20) - 100 and len(data) > 1 << 20
    code, out, err = submit_prompt_file(url, str(path))
    assert code == 0, err
    r = json.loads(out)
    assert r["goal"]["state"] == "succeeded" and r["tasks"][0]["output"] == "fine", r
    sent = provider.requests[-1][2]["messages"][-1]
    assert sent["role"] == "user" and sent["content"].endswith("MARKER-AT-THE-END")
    assert hashlib.sha256(sent["content"].encode()).hexdigest() == hashlib.sha256(data).hexdigest(), "the exact bytes"
    # Held under its hash; the journal holds the reference only.
    digest = hashlib.sha256(data).hexdigest()
    assert (tmp_path / "data" / "blobs" / digest).read_bytes() == data
    assert len((tmp_path / "data" / "journal.log").read_bytes()) < 64 * 1024
    # A small prompt from stdin (-) goes inline.
    code, out, err = submit_prompt_file(url, "-", stdin="a short prompt from stdin".encode())
    assert code == 0, err
    assert provider.requests[-1][2]["messages"][-1] == {"role": "user", "content": "a short prompt from stdin"}


def test_a_prompt_file_that_is_not_utf8_is_refused_with_a_sentence(procs, tmp_path):
    provider = ScriptedProvider([])
    url = hive_with_openai_drone(procs, tmp_path, provider)
    path = tmp_path / "binary.bin"
    path.write_bytes(b"text then \xff\xfe not utf-8" * 2000)
    code, out, err = submit_prompt_file(url, str(path))
    assert code == 65 and f"prompt file {path} is not UTF-8 text: a prompt must be text" in err, (code, err)
    assert provider.requests == []
    # A client that uploads such a blob itself and names it: the drone refuses it for good, before the provider.
    ref = asyncio.run(upload_parts(url, path.read_bytes()))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"name": "binary prompt", "root": {"kind": "model", "tier": "core", "max_attempts": 3, "input": {
        "prompt_blob": ref["blob"], "size": ref["size"], "max_tokens": 4}}}))
    code, r = submit_wait(url, str(plan))
    [task] = r["tasks"]
    assert code == 1 and task["state"] == "dead" and task["attempts"] == 1, task
    assert f"prompt blob {ref['blob']} is not UTF-8 text: a prompt must be text" in task["error"], task
    assert provider.requests == []
    # A size that is not the blob's is refused at submission (budgets count the prompt by it).
    plan.write_text(json.dumps({"root": {"kind": "model", "input": {"prompt_blob": ref["blob"], "size": 5}}}))
    r = hive("submit", str(plan), "--honeycomb", url)
    assert r.returncode == 65 and f"root.input.size is 5, but blob '{ref['blob']}' is {ref['size']} bytes" in r.stderr, r.stderr
