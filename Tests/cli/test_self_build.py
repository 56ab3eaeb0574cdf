"""Hive building Hive (issue 18, manifesto §11): Config/plans/self-build.json end to end on a small git repository
the test creates. The architect splits a change request into subtasks; worker agents read the repository through
mcp-server-git (a real MCP server from PyPI) and try their patches with Config/tools/try-patch in throwaway
clones; the verifier runs the repository's real tests on each patch; critics score the survivors; after an
operator's approval (`hive approve`), Config/tools/integrate-patches applies the winners in order with real git,
reruns the tests and merges. One worker's first patch is wrong: the verifier rejects it and the step re-forks
with the failing test's output as feedback.

What is not real is the model's text: `CodingModelDouble`, a test double of a provider (a 270M local model
cannot write these patches), answering each request from its content (the role and subtask it asks about, the
feedback it carries, the tool results so far), never from the order requests arrive in. The patches it answers
with are made here by editing a copy of the repository and asking git for the diff. The same plan file runs
behind both provider APIs the drone speaks (`drone --api openai` and `--api anthropic`, each over its native tool
calling); a real provider takes the double's place unchanged (Docs/SELF-BUILD.md)."""
import json, os, pathlib, shutil, subprocess, sys, threading, types

import pytest

from conftest import DRONE, ROOT, JSONPostServer, hive, require_python_module, start_honeycombd, wait_for_log, wait_until

TOOLS = pathlib.Path(ROOT).resolve() / "Config" / "tools"
TEST_COMMAND = "python3 -m unittest -q"

CALC = '''"""A tiny calculator."""


def add(a, b):
    """The sum of a and b, counting up from a."""
    total = a
    for _ in range(b):
        total += 1
    return total


def sub(a, b):
    """a minus b."""
    return a - b


def neg(a):
    """Minus a."""
    return -a
'''
TEST_CALC = '''import unittest

from calc import add, neg, sub


class CalcTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)

    def test_sub(self):
        self.assertEqual(sub(5, 3), 2)

    def test_neg(self):
        self.assertEqual(neg(4), -4)
'''
ADD_FIXED = CALC.replace("    total = a\n    for _ in range(b):\n        total += 1\n    return total\n", "    return a + b\n")
ADD_CARELESS = CALC.replace("range(b)", "range(abs(b))")  # counts up even for a negative b: the deliberately wrong fix
TEST_NEGATIVES = '''import unittest

from calc import add


class NegativesTest(unittest.TestCase):
    def test_add_negatives(self):
        self.assertEqual(add(-2, -3), -5)
        self.assertEqual(add(5, -7), -2)
'''
MUL_DOCUMENTED = CALC + '''

def mul(a, b):
    """The product of a and b."""
    return a * b
'''
MUL_BARE = CALC + '''

def mul(a, b):
    return a * b
'''
TEST_MUL = '''import unittest

from calc import mul


class MulTest(unittest.TestCase):
    def test_mul(self):
        self.assertEqual(mul(4, -3), -12)
        self.assertEqual(mul(0, 9), 0)
'''

TEST_QUIRK = """import unittest

from calc import add


class QuirkTest(unittest.TestCase):
    def test_add_ignores_a_negative_b(self):
        self.assertEqual(add(1, -1), 1)
"""


def git(repo, *args):
    r = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    assert r.returncode == 0, f"git {' '.join(args)}: {r.stderr}"
    return r.stdout


def make_repository(path):
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "calc.py").write_text(CALC)
    (path / "test_calc.py").write_text(TEST_CALC)
    git(path, "add", "-A")
    git(path, "-c", "user.name=Test", "-c", "user.email=test@example.invalid", "commit", "-q", "-m", "calc: add, sub, neg")
    return path


def patch_of(repo, scratch, files):
    """The unified diff (git diff against HEAD) that turns `repo` into `files` ({name: text}), made by real git on a
    copy: the double answers with patches a programmer could have written."""
    work = scratch / f"edit-{len(list(scratch.iterdir()))}"
    shutil.copytree(repo, work)
    for name, text in files.items():
        (work / name).write_text(text)
    git(work, "add", "-A")
    return git(work, "diff", "--cached")


class CodingModelDouble(JSONPostServer):
    """A test double for the model's text behind an OpenAI-compatible chat-completions API (`api="openai"`) or
    Anthropic's Messages API (`api="anthropic"`). Each answer is a function of the request alone (architect,
    critic or worker turn; which subtask; whether the prompt carries re-fork feedback; how many tool results the
    turn has seen; the seed, where the API has one), so concurrent requests in any order get the same answers.
    Every request body is kept in `requests`."""

    def __init__(self, repo, patches, api, pin_old_add=False):
        self.repo, self.patches, self.api, self.pin_old_add, self.requests = str(repo), patches, api, pin_old_add, []
        self.lock = threading.Lock()
        super().__init__()

    def respond(self, path, headers, body):
        with self.lock:
            self.requests.append(body)
        return 200, {}, self.reply(self.answer(body))

    def reply(self, answer):
        """The API's reply carrying `answer`: text, or ("call", function name, arguments)."""
        if self.api == "anthropic":
            block = ({"type": "tool_use", "id": "toolu_x", "name": answer[1], "input": answer[2]} if isinstance(answer, tuple)
                     else {"type": "text", "text": answer})
            return {"model": "coding-double", "content": [block], "usage": {"input_tokens": 100, "output_tokens": 50}}
        message = {"role": "assistant", "content": answer}
        if isinstance(answer, tuple):
            message = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": answer[1], "arguments": json.dumps(answer[2])}}]}
        return {"model": "coding-double", "choices": [{"message": message}], "usage": {"prompt_tokens": 100, "completion_tokens": 50}}

    def tool_results(self, body):
        """The tool results the turn's conversation holds, as text."""
        if self.api == "anthropic":
            return [b["content"] for m in body["messages"] if m["role"] == "user" and isinstance(m["content"], list)
                    for b in m["content"] if b.get("type") == "tool_result"]
        return [m["content"] for m in body["messages"] if m["role"] == "tool"]

    def schemas(self, body):
        """The tools' input schemas this request offers the model, by function name."""
        if self.api == "anthropic":
            return {t["name"]: t["input_schema"] for t in body["tools"]}
        return {t["function"]["name"]: t["function"]["parameters"] for t in body["tools"]}

    def call(self, body, tool, arguments):
        """A native call of the Hive tool `tool`, by the function name the drone gave it in this request."""
        names = [t["name"] if self.api == "anthropic" else t["function"]["name"] for t in body["tools"]]
        return ("call", next(n for n in names if n == tool.replace(".", "__")), arguments)

    def answer(self, body):
        prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
        if "tools" not in body:
            if "subtasks" in prompt:  # the architect
                return json.dumps({"subtasks": [
                    {"task": "Make add(a, b) in calc.py return the right sum when either argument is negative, with a unit test.",
                     "candidates": 1},
                    {"task": "Add a function mul(a, b) to calc.py that returns the product, with a unit test.", "candidates": 2}]})
            # A critic: the documented mul is the better patch.
            score = 6 if "def mul" in prompt and "The product of a and b" not in prompt else 9
            return json.dumps({"score": score, "reasons": f"reviewed the diff ({score}/10)"})
        # A worker agent's turn.
        turns = len(self.tool_results(body))
        if "Your part: Add a function mul" in prompt:
            if "tests failed after integrating" in prompt:  # re-forked by the integrator: drop the pinning test
                patch = self.patches["mul_documented"]
            elif self.pin_old_add:
                patch = self.patches["mul_pinning"]
            else:  # candidates differ by seed; Anthropic's API has none, so there both write the documented one
                patch = self.patches["mul_documented" if body.get("seed", 1) % 2 else "mul_bare"]
            script = [("git.git_log", {"max_count": 5}),
                      ("exec.try-patch", {"args": [patch]})]
        elif "Earlier attempts were rejected" in prompt:  # the re-fork: the feedback names the failing test
            patch = self.patches["add_fixed"]
            script = [("git.git_show", {"revision": "HEAD:calc.py"}),
                      ("exec.try-patch", {"args": [patch]})]
        else:  # a careless first attempt: answers without trying its patch
            patch = self.patches["add_careless"]
            script = [("git.git_show", {"revision": "HEAD:calc.py"})]
        if turns < len(script):
            return self.call(body, *script[turns])
        return patch


def self_build_plan(tmp_path, repo):
    """Config/plans/self-build.json aimed at `repo`: the goal's words, and the repository and tools paths of its
    verifier and integrator (what an operator edits; Docs/SELF-BUILD.md)."""
    plan = json.loads((pathlib.Path(ROOT) / "Config" / "plans" / "self-build.json").read_text())
    plan["goal"] = (f"In the git repository {repo} (its tests run with `{TEST_COMMAND}`): make add() handle negative "
                    "numbers, and add a mul(a, b) function, each with unit tests.")
    plan["architect"]["step"]["verify"] = {"command": str(TOOLS / "try-patch"), "args": [str(repo), TEST_COMMAND]}
    plan["architect"]["integrate"]["exec"] = {"command": str(TOOLS / "integrate-patches"), "args": [str(repo), TEST_COMMAND]}
    plan["architect"]["step"]["agent"]["bind"] = {"git.git_log": {"repo_path": str(repo)}, "git.git_show": {"repo_path": str(repo)},
                                                  "exec.try-patch": [str(repo), TEST_COMMAND]}
    path = tmp_path / "self-build.json"
    path.write_text(json.dumps(plan))
    return str(path)


def run_self_build(procs, tmp_path, api, pin_old_add=False):
    """Creates the repository, the model double and a hive (honeycombd and three drones), submits the self-build
    plan and plays the operator (approving what waits) until the goal ends. With `pin_old_add`, the mul workers'
    first patches also add a test that pins add()'s old behaviour: each patch passes alone, the merge does not."""
    require_python_module("mcp_server_git", package="mcp-server-git")
    scratch = tmp_path / "edits"
    scratch.mkdir()
    repo = make_repository(tmp_path / "calc")
    base = git(repo, "rev-parse", "HEAD").strip()
    patches = {
        "add_fixed": patch_of(repo, scratch, {"calc.py": ADD_FIXED, "test_negatives.py": TEST_NEGATIVES}),
        "add_careless": patch_of(repo, scratch, {"calc.py": ADD_CARELESS, "test_negatives.py": TEST_NEGATIVES}),
        "mul_documented": patch_of(repo, scratch, {"calc.py": MUL_DOCUMENTED, "test_mul.py": TEST_MUL}),
        "mul_bare": patch_of(repo, scratch, {"calc.py": MUL_BARE, "test_mul.py": TEST_MUL}),
        "mul_pinning": patch_of(repo, scratch, {"calc.py": MUL_DOCUMENTED, "test_mul.py": TEST_MUL, "test_quirk.py": TEST_QUIRK}),
    }
    model = CodingModelDouble(repo, patches, api, pin_old_add)
    try_patch, integrate = str(TOOLS / "try-patch"), str(TOOLS / "integrate-patches")

    url = start_honeycombd(procs).url
    provider = ["--api", api, "--base-url", model.url, "--api-model", "coding-double"]
    drones = [
        # The architect and the critics.
        procs.start([DRONE, "--honeycomb", url, "--name", "brain", "--tier", "core", *provider]),
        # Worker agents: git tools from mcp-server-git (confined to the repository; read-only by its annotations)
        # and exec.try-patch, which runs code the agent wrote: declared side-effecting, so each agent waits for
        # an operator's approval.
        procs.start([DRONE, "--honeycomb", url, "--name", "worker", "--tier", "worker", "--slots", "4", *provider,
                     "--mcp", f"git={sys.executable} -m mcp_server_git --repository {repo}",
                     "--allow-exec", try_patch, "--side-effects", try_patch]),
        # The verifier and the integrator: programs, no model.
        procs.start([DRONE, "--honeycomb", url, "--name", "checker", "--tier", "edge", "--slots", "4",
                     "--allow-exec", f"{try_patch},{integrate}", "--side-effects", integrate]),
    ]
    for d in drones:
        wait_for_log(d, "event=joined", timeout=30)

    r = hive("submit", self_build_plan(tmp_path, repo), "--honeycomb", url)
    assert r.returncode == 0, r.stdout + r.stderr
    goal = r.stdout.strip()
    approved = []

    def approve_until_done():
        """The operator: approves what waits for approval, until the goal ends."""
        tasks = json.loads(hive("tasks", goal, "--json", "--honeycomb", url).stdout)
        waiting = [t for t in tasks if t["state"] == "awaiting_approval"]
        if waiting:
            approved.extend(waiting)
            assert hive("approve", goal, *[t["task"] for t in waiting], "--honeycomb", url).returncode == 0
        result = json.loads(hive("result", goal, "--json", "--honeycomb", url).stdout)
        return result if result["goal"]["state"] in ("succeeded", "failed", "cancelled") else None

    result = wait_until("the self-build goal to end", approve_until_done, timeout=90, interval=0.1)
    print(hive("result", goal, "--honeycomb", url).stdout)  # shown when an assertion fails (and with -s)
    assert result["goal"]["state"] == "succeeded", json.dumps(result["goal"]) + json.dumps(result.get("steps"), indent=1)
    return types.SimpleNamespace(repo=repo, base=base, goal=goal, result=result, model=model, approved=approved, url=url)


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_the_self_build_plan_changes_a_repository_through_agents_checks_critics_and_an_approved_merge(procs, tmp_path, api):
    run = run_self_build(procs, tmp_path, api)
    repo, base, goal, result, model, approved, url = run.repo, run.base, run.goal, run.result, run.model, run.approved, run.url

    # The approvals: every worker agent (it may call exec.try-patch) and the integrator (its step requires one).
    agents = [t for t in approved if t["kind"] == "agent"]
    assert len(agents) == 4, [t["approval"] for t in approved]  # add: 1 + its re-fork; mul: 2
    # The approval shows what the goal binds: the repository and test command try-patch runs, whatever the agent.
    bound = f'exec.try-patch [{json.dumps(str(repo))},"{TEST_COMMAND}",…]'
    assert all(bound in t["approval"]["runs"] for t in agents), agents[0]["approval"]
    assert all(f'git.git_show {{"repo_path":{json.dumps(str(repo))},…}}' in t["approval"]["runs"] for t in agents), agents[0]["approval"]
    assert all("worker declares exec.try-patch side-effecting" in t["approval"]["why"] for t in agents), agents[0]["approval"]
    [merge] = [t for t in approved if t["kind"] == "exec"]
    assert "integrate-patches" in merge["approval"]["runs"], merge["approval"]

    # The plan: the architect's two subtasks, the careless patch rejected by the real tests and re-forked with
    # their output, the better mul patch chosen by the critics, and the integrator's merge.
    steps = {s["id"]: s for s in result["steps"]}
    assert list(steps) == ["plan", "s1", "s2", "answer"], list(steps)
    s1, s2 = steps["s1"], steps["s2"]
    assert s1["rounds"] == 2 and s1["state"] == "succeeded", s1
    first, second = [c for c in s1["candidates"] if c["round"] == 0], [c for c in s1["candidates"] if c["round"] == 1]
    assert [c["verified"] for c in first] == [False] and first[0]["rejection"] == "check failed: exit code 1", first
    assert any("FAIL: test_add_negatives" in f and "AssertionError: 1 != -5" in f for f in s1["feedback"]), s1["feedback"]
    assert second[0]["verified"] is True and second[0]["accepted"], second
    scores = [6, 9] if api == "openai" else [9, 9]  # Anthropic's API has no seed: both candidates write the same
    assert s2["rounds"] == 1 and sorted(c["score"] for c in s2["candidates"]) == scores, s2["candidates"]
    assert [c["accepted"] for c in s2["candidates"]] == [True, False], "the documented patch (candidate 1) wins"
    assert all(j["drone"] != c["drone"] for c in s2["candidates"] for j in c["judges"]), "critics are not the authors"
    assert "merged steps s1 s2 into" in result["answer"], result["answer"]

    # The re-forked worker's prompt carried the real test failure; it tried its patch in a throwaway clone.
    refork = [b for b in model.requests if "Earlier attempts were rejected" in json.dumps(b["messages"][:2])]
    assert refork and "AssertionError: 1 != -5" in json.dumps(refork[0]["messages"]), "feedback from the real test run"
    tried = [r for b in model.requests if "tools" in b for r in model.tool_results(b) if "the tests pass" in r]
    assert tried, "exec.try-patch ran the repository's tests on a worker's patch"
    # The model was shown only what the goal left it: try-patch's patch (2 of its 16 arguments are bound), and
    # git tools without repo_path.
    shown = [model.schemas(b) for b in model.requests if "tools" in b]
    assert shown and all(s["exec__try-patch"]["properties"]["args"]["maxItems"] == 14 for s in shown), shown[0]
    assert all("repo_path" not in s["git__git_show"]["properties"] and "repo_path" not in s["git__git_show"].get("required", [])
               for s in shown), shown[0]

    # The repository: the integrator's commits (one per subtask, in order) and its merge, both changes in, the
    # careless patch nowhere in its history, and its tests pass when this test runs them itself.
    log = git(repo, "log", "--format=%an|%s", f"{base}..HEAD")
    assert log.splitlines() == [f"Hive integrator|hive: merge {goal} (steps s1 s2)", f"Hive integrator|hive: step s2 of {goal}",
                                f"Hive integrator|hive: step s1 of {goal}"], log
    assert len(git(repo, "rev-list", "--parents", "-n", "1", "HEAD").split()) == 3, "a real merge commit"
    assert git(repo, "status", "--porcelain") == "", "the working tree is the merge"
    assert "range(abs(b))" not in git(repo, "log", "-p", "--all"), "the rejected patch never reached the repository"
    calc = (repo / "calc.py").read_text()
    assert "return a + b" in calc and '"""The product of a and b."""' in calc, calc
    tests = subprocess.run([sys.executable, "-m", "unittest", "-v"], cwd=repo, capture_output=True, text=True)
    assert tests.returncode == 0 and "test_add_negatives" in tests.stderr and "test_mul" in tests.stderr, tests.stderr
    check = subprocess.run([sys.executable, "-c", "import calc; print(calc.add(-2, -3), calc.add(5, -7), calc.mul(4, -3))"],
                           cwd=repo, capture_output=True, text=True)
    assert check.stdout.split() == ["-5", "-2", "-12"], check

    # The tool calls are in the ledger and the trace.
    by_tool = result["ledger"]["by_tool"]
    assert by_tool["git.git_show"]["calls"] == 2 and by_tool["git.git_log"]["calls"] == 2, by_tool
    assert by_tool["exec.try-patch"]["calls"] == 3 and by_tool["exec.try-patch"]["errors"] == 0, by_tool
    trace = json.loads(hive("trace", goal, "--json", "--honeycomb", url).stdout)
    names = [s["name"] for s in trace["spans"] if s["kind"] == "tool"]
    assert names.count("tool exec.try-patch") == 3 and names.count("tool git.git_show") == 2, names


def test_a_merge_that_fails_its_tests_reforks_every_subtask_with_the_output_and_integrates_again(procs, tmp_path):
    """Each patch passes alone, but the mul patch pins add()'s old behaviour in a test, so the merge fails: the
    repository stays as it was, both subtasks re-fork with the integrator's test output as feedback (the plan's
    `refork_inputs`), and the second integration, approved again, merges."""
    run = run_self_build(procs, tmp_path, "openai", pin_old_add=True)
    steps = {s["id"]: s for s in run.result["steps"]}
    answer, s1, s2 = steps["answer"], steps["s1"], steps["s2"]
    assert answer["rounds"] == 2 and s2["rounds"] == 2 and s1["rounds"] == 3, {k: v["rounds"] for k, v in steps.items()}
    failed = "tests failed after integrating steps s1 s2: FAIL: test_add_ignores_a_negative_b"
    assert any(f.startswith(failed) for f in answer["feedback"]), answer["feedback"]
    assert any(f.startswith("step answer: " + failed) for f in s2["feedback"]), s2["feedback"]
    again = [b for b in run.model.requests if "tools" in b and "Your part: Add a function mul" in json.dumps(b["messages"][:1])
             and "tests failed after integrating" in json.dumps(b["messages"][:1])]
    assert again, "the re-forked mul worker was told why"
    merges = [t for t in run.approved if t["kind"] == "exec"]
    assert len(merges) == 2, [t["approval"] for t in run.approved]
    log = git(run.repo, "log", "--format=%s", f"{run.base}..HEAD").splitlines()
    assert log == [f"hive: merge {run.goal} (steps s1 s2)", f"hive: step s2 of {run.goal}", f"hive: step s1 of {run.goal}"], log
    assert "test_quirk" not in git(run.repo, "log", "-p", "--all", "--stat"), "the failed merge never reached the repository"
    tests = subprocess.run([sys.executable, "-m", "unittest", "-v"], cwd=run.repo, capture_output=True, text=True)
    assert tests.returncode == 0 and "test_add_negatives" in tests.stderr and "test_mul" in tests.stderr, tests.stderr


def test_the_integrator_leaves_the_repository_untouched_when_the_merged_patches_fail_the_tests(tmp_path):
    """integrate-patches on its own: two patches that each pass alone but break the tests together (the second pins
    the old behaviour the first fixes) are not merged; REPO keeps its branch, history and working tree."""
    scratch = tmp_path / "edits"
    scratch.mkdir()
    repo = make_repository(tmp_path / "calc")
    base = git(repo, "rev-parse", "HEAD").strip()
    fix = patch_of(repo, scratch, {"calc.py": ADD_FIXED, "test_negatives.py": TEST_NEGATIVES})
    pin = patch_of(repo, scratch, {"test_quirk.py": TEST_QUIRK})
    stdin = f"Result of step s1:\n{fix}\n\nResult of step s2:\n{pin}\n"
    r = subprocess.run([str(TOOLS / "integrate-patches"), str(repo), TEST_COMMAND], input=stdin, capture_output=True,
                       text=True, env={"PATH": os.environ["PATH"], "HIVE_GOAL_ID": "g9"}, cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith("tests failed after integrating steps s1 s2: FAIL: test_add_ignores_a_negative_b"), r.stdout
    assert first.endswith(f"({TEST_COMMAND}; {repo} unchanged)"), r.stdout
    assert git(repo, "rev-parse", "HEAD").strip() == base and git(repo, "status", "--porcelain") == ""

    r = subprocess.run([str(TOOLS / "integrate-patches"), str(repo), TEST_COMMAND], input="no patch here\n",
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1 and "no patches on standard input" in r.stdout, r.stdout


def test_try_patch_tries_a_patch_in_a_throwaway_clone_and_says_why_not(tmp_path):
    """try-patch on its own: a fenced patch (as models write them) applies and its tests run; one that does not
    apply, one that breaks a test, and a path outside the tree are refused with the reason; REPO never changes."""
    scratch = tmp_path / "edits"
    scratch.mkdir()
    repo = make_repository(tmp_path / "calc")
    base = git(repo, "rev-parse", "HEAD").strip()
    fix = patch_of(repo, scratch, {"calc.py": ADD_FIXED, "test_negatives.py": TEST_NEGATIVES})

    def try_patch(patch, *args):
        return subprocess.run([str(TOOLS / "try-patch"), *args], input=patch, capture_output=True, text=True, cwd=tmp_path)

    r = try_patch(f"Here it is:\n```diff\n{fix}```\n\n", str(repo), TEST_COMMAND)
    assert r.returncode == 0 and r.stdout.startswith("the patch applies (") and "the tests pass" in r.stdout, r.stdout
    r = try_patch(fix.replace("-    total = a", "-    total = b", 1), str(repo), TEST_COMMAND)  # context that is not there
    assert r.returncode == 1 and r.stdout.startswith(f"the patch does not apply to {repo} at "), r.stdout
    r = try_patch(patch_of(repo, scratch, {"calc.py": ADD_CARELESS, "test_negatives.py": TEST_NEGATIVES}), str(repo), TEST_COMMAND)
    assert r.returncode == 1 and r.stdout.startswith(f"tests failed ({TEST_COMMAND}, exit 1): FAIL: test_add_negatives"), r.stdout
    assert "AssertionError: 1 != -5" in r.stdout.splitlines()[0], r.stdout
    outside = "--- a/../escape.py\n+++ b/../escape.py\n@@ -0,0 +1 @@\n+x = 1\n"
    r = try_patch("diff --git a/../escape.py b/../escape.py\nnew file mode 100644\n" + outside.replace("a/../escape.py", "/dev/null", 1),
                  str(repo), TEST_COMMAND)
    assert r.returncode == 1 and "invalid path '../escape.py'" in r.stdout and not (tmp_path / "escape.py").exists(), r.stdout
    r = try_patch("", str(repo))
    assert r.returncode == 2 and "usage: try-patch REPO TEST [PATCH]" in r.stderr, r.stderr
    assert git(repo, "rev-parse", "HEAD").strip() == base and git(repo, "status", "--porcelain") == ""


def test_the_self_build_plan_conforms_to_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    from test_plan_schema import SCHEMA
    plan = json.loads((pathlib.Path(ROOT) / "Config" / "plans" / "self-build.json").read_text())
    jsonschema.validate(plan, SCHEMA)
    assert plan["architect"]["step"]["agent"]["tools"] == ["git.git_log", "git.git_show", "exec.try-patch"]
    assert plan["architect"]["step"]["agent"]["bind"]["exec.try-patch"] == ["/srv/hive-demo", "python3 -m unittest -q"]
