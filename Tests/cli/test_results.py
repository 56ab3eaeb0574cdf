"""What `hive result`, `hive goal` and `hive goals` tell a user: the answer, vote counts, why each attempt failed,
task counts that agree, and errors as sentences. Real honeycombd, drone and hive processes; every wait polls."""
import json, signal

from conftest import free_port, hive
from test_control_plane import exec_task, start_drones, start_honeycombd, submit_wait, wait_until

RAW_ERRORS = ("DecodingError", "NSCocoaErrorDomain", "Error Domain=", "NATSClientError", "keyNotFound", "CodingKeys")


def hive_ok(*args):
    r = hive(*args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_a_vote_shows_each_answer_with_its_votes_and_what_a_winner_needs(procs, tmp_path):
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    start_honeycombd(procs, tmp_path, port)
    start_drones(procs, url, 1, slots=4)
    plan = {"name": "vote", "root": {"kind": "fork", "join": "vote", "children": [
        exec_task("echo yes"), exec_task("echo ' YES'"), exec_task("echo yes"), exec_task("echo no")]}}
    (tmp_path / "vote.json").write_text(json.dumps(plan))
    code, result = submit_wait(url, str(tmp_path / "vote.json"))
    assert code == 0, result["goal"]
    assert result["answer"] == "yes"
    [vote] = result["goal"]["votes"]
    assert vote["task"] == result["goal"]["goal"] + ".0" and vote["decided"] and vote["winner"] == "yes"
    assert vote["tally"][0] == {"answer": "yes", "votes": 3}
    assert vote["voters"] == 4 and vote["majority"] == 3 and vote["needed"] == 1
    goal = result["goal"]["goal"]
    text = hive_ok("result", goal, "--honeycomb", url)
    lines = text.splitlines()
    assert lines[1] == "  answer: yes", text  # the answer first, under the goal's line
    assert f'vote {goal}.0: "yes" 3' in lines[2] and "of 4 voters (needs 1, majority 3); won by \"yes\"" in lines[2], text
    shown = hive_ok("goal", goal, "--honeycomb", url)
    assert "  answer: yes" in shown and '"yes" 3' in shown, shown
    assert json.loads(hive_ok("goal", goal, "--json", "--honeycomb", url))["votes"][0]["tally"][0]["votes"] == 3


def test_a_task_whose_drone_was_killed_says_why_it_was_retried(procs, tmp_path):
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    start_honeycombd(procs, tmp_path, port)
    [victim] = start_drones(procs, url, 1)
    goal = hive_ok("submit", "--exec", "/bin/sh", "-c", "sleep 2; echo done", "--max-attempts", "3", "--honeycomb", url).strip()

    def leased():
        r = hive("tasks", goal, "--json", "--honeycomb", url)
        return r.returncode == 0 and any(t["state"] in ("leased", "running") and t.get("drone") == "d0" for t in json.loads(r.stdout))
    wait_until("the task leased to d0", leased)
    victim.send_signal(signal.SIGKILL)
    victim.wait()

    def pending():
        r = hive("tasks", goal, "--json", "--honeycomb", url)
        return r.returncode == 0 and json.loads(r.stdout)[-1]["state"] == "pending"
    wait_until("the task back to pending", pending)
    # While it waits, watch says why it went back (and exits at its own deadline: the goal is still running).
    watched = hive("watch", goal, "--wait-timeout", "1", "--honeycomb", url)
    assert watched.returncode == 75, watched.stderr
    assert f"{goal}.1 pending" in watched.stdout and "retried after attempt 1 on d0: drone d0 lost (no heartbeat)" in watched.stdout, watched.stdout
    start_drones(procs, url, 1)  # d1 takes the retry

    def ended():
        r = hive("goal", goal, "--json", "--honeycomb", url)
        return r.returncode == 0 and json.loads(r.stdout)["state"] in ("succeeded", "failed")
    wait_until("the goal to end", ended)
    result = json.loads(hive_ok("result", goal, "--json", "--honeycomb", url))
    assert result["goal"]["state"] == "succeeded"
    [task] = result["tasks"]
    assert task["drone"] == "d1" and task["attempts"] == 2
    [note] = task["failed_attempts"]
    assert note["attempt"] == 1 and note["drone"] == "d0" and note["reason"] == "drone d0 lost (no heartbeat)"
    text = hive_ok("result", goal, "--honeycomb", url)
    assert f"{goal}.1 succeeded after 2 attempts:" in text, text
    assert "attempt 1 on d0: drone d0 lost (no heartbeat)" in text, text
    assert "  attempt 1 on d0: drone d0 lost (no heartbeat)" in hive_ok("tasks", goal, "--honeycomb", url)


def test_goals_and_result_count_the_same_tasks(procs, tmp_path):
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    start_honeycombd(procs, tmp_path, port)
    start_drones(procs, url, 1)
    plan = {"name": "nested", "root": {"kind": "fork", "join": "all", "children": [
        exec_task("echo a"), {"kind": "fork", "join": "all", "children": [exec_task("echo b"), exec_task("echo c")]}]}}
    (tmp_path / "nested.json").write_text(json.dumps(plan))
    code, result = submit_wait(url, str(tmp_path / "nested.json"))
    assert code == 0
    goal = result["goal"]["goal"]
    [listed] = json.loads(hive_ok("goals", "--json", "--honeycomb", url))
    assert listed["work_tasks"] == result["goal"]["work_tasks"] == len(result["tasks"]) == 3
    assert listed["tasks"] == 5  # every node: two forks and three work tasks
    row = hive_ok("goals", "--honeycomb", url).splitlines()[1].split()
    assert row[:3] == [goal, "succeeded", "3"], row
    assert hive_ok("result", goal, "--honeycomb", url).splitlines()[0] == f"goal {goal} succeeded: 3 tasks (3 succeeded)"
    assert hive_ok("goal", goal, "--honeycomb", url).splitlines()[0] == f"goal {goal} succeeded: 3 tasks (3 succeeded)"


def test_errors_reach_the_user_as_sentences(tmp_path):
    said = []

    def run(*args):
        r = hive(*args)
        said.append(r.stderr)
        return r
    port = free_port()  # nothing listens there
    r = run("goals", "--honeycomb", f"nats://127.0.0.1:{port}")
    assert r.returncode == 69
    assert r.stderr.startswith(f"hive: cannot reach honeycombd at nats://127.0.0.1:{port}: "), r.stderr
    assert "is honeycombd running there? (--honeycomb URL, $HIVE_URL)" in r.stderr, r.stderr
    r = run("goals", "--honeycomb", "http://127.0.0.1:8420")
    assert r.returncode == 69 and "is not a bus address" in r.stderr, r.stderr
    missing = tmp_path / "plan.json"
    r = run("submit", "--plan", str(missing))
    assert r.returncode == 66
    assert r.stderr == f"hive: cannot read plan file {missing}: no such file\n"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "root": {"kind": 5}}))
    r = run("submit", "--plan", str(bad))
    assert r.returncode == 65
    assert r.stderr.startswith(f"hive: plan file {bad} could not be read: root.kind is not a string"), r.stderr
    bad.write_text("{")
    r = run("submit", "--plan", str(bad))
    assert r.returncode == 65 and "could not be read: not valid JSON" in r.stderr, r.stderr
    r = run("submit", "--plan", str(tmp_path))  # a directory
    assert r.returncode == 66 and r.stderr == f"hive: cannot read plan file {tmp_path}: it is a directory\n", r.stderr
    r = run("wasm", "run", str(tmp_path / "nothing.wasm"))
    assert r.returncode == 66 and r.stderr == f"hive: cannot read module {tmp_path / 'nothing.wasm'}: no such file\n"
    for out in said:
        assert out.count("\n") == 1 and not any(raw in out for raw in RAW_ERRORS), out


def test_an_input_over_max_payload_goes_as_a_blob_and_a_prompt_over_it_is_refused_naming_the_limit(procs, tmp_path):
    """--input files of any size (and binary ones) are uploaded as blobs (Docs/ARCHITECTURE.md, "Inputs of any
    size"); what still travels inside the goal's JSON (a plan's prompt) is refused over max_payload before sending."""
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    start_honeycombd(procs, tmp_path, port)
    data = tmp_path / "input.txt"
    data.write_bytes(bytes(range(1, 128)) * 8257)  # 1 MiB of ASCII, control bytes included: 2.4 MB once escaped
    r = hive("submit", "--wasm", "0" * 64, "--input", str(data), "--honeycomb", url)
    assert r.returncode == 0, r.stderr
    # Binary data is uploaded as it is, not refused nor changed into replacement characters.
    data = tmp_path / "input.bin"
    data.write_bytes(bytes(range(256)) * 16)
    r = hive("submit", "--wasm", "0" * 64, "--input", str(data), "--honeycomb", url)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(hive_ok("goals", "--json", "--honeycomb", url))) == 2
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"name": "long", "root": {"kind": "model", "input": {"prompt": "\u0001" * 300_000}}}))
    r = hive("submit", str(plan), "--honeycomb", url)
    assert r.returncode == 65, r.stderr
    assert "over the bus's max_payload of 1048576 bytes (honeycombd --max-payload BYTES" in r.stderr, r.stderr
    assert "the submit request is " in r.stderr and "nothing was sent" in r.stderr, r.stderr
    assert len(json.loads(hive_ok("goals", "--json", "--honeycomb", url))) == 2
