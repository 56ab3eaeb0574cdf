"""Arguments the goal binds (`agent.bind`, `hive submit --bind`) end to end: a drone fronting an OpenAI-compatible
provider (the scripted test double of test_external_brains: no real provider calls tools on demand) runs its
real /bin/echo with the bound arguments first, whatever the model passes; the model is shown only what is left;
the approval names the bound arguments; bad bindings are refused at submission naming the field."""
import json

from conftest import hive
from test_agents import agent_goal, agent_hive, approve_the_waiting_agent, reply
from test_external_brains import ScriptedProvider


def test_hive_submit_bind_puts_the_goals_arguments_before_the_models(procs):
    p = ScriptedProvider([reply(call=("exec__echo", {"args": ["/etc", "sh -c evil"]})), reply(content="echoed")])
    url = agent_hive(procs, p.url)
    r = hive("submit", "--prompt", "Echo.", "--agent", "exec.echo", "--bind", 'exec.echo=["/srv/bound", "the test"]',
             "--wait", "--honeycomb", url, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "→ /srv/bound the test /etc sh -c evil" in r.stdout, r.stdout
    schema = p.requests[0][2]["tools"][0]["function"]["parameters"]
    assert schema["properties"]["args"]["maxItems"] == 14, schema
    r = hive("submit", "--prompt", "x", "--bind", 'exec.echo=["a"]', "--honeycomb", url)
    assert r.returncode != 0 and "--bind is for agents: give --agent TOOLS too" in r.stderr, r.stderr
    r = hive("submit", "--prompt", "x", "--agent", "exec.echo", "--bind", "exec.echo=[oops", "--honeycomb", url)
    assert r.returncode != 0 and "--bind exec.echo: the value is not JSON" in r.stderr, r.stderr


def test_bad_bindings_are_refused_at_submission(procs, tmp_path):
    url = agent_hive(procs, ScriptedProvider([]).url)
    r = hive("submit", agent_goal(tmp_path, ["exec.date"], bind={"exec.echo": ["x"]}), "--honeycomb", url)
    assert r.returncode != 0 and "root.input.agent.bind.exec.echo: exec.echo is not in agent.tools" in r.stderr, r.stderr
    r = hive("submit", agent_goal(tmp_path, ["exec.date"], bind={"exec.date": [str(i) for i in range(17)]}), "--honeycomb", url)
    assert r.returncode != 0 and "has 17 arguments; an exec tool call takes at most 16" in r.stderr, r.stderr
    r = hive("submit", agent_goal(tmp_path, ["exec.date"], bind={"exec.date": {"args": []}}), "--honeycomb", url)
    assert r.returncode != 0 and "agent.bind.exec.date must be an array of strings" in r.stderr, r.stderr


def test_the_approval_shows_the_bound_arguments(procs, tmp_path):
    p = ScriptedProvider([reply(call=("exec__echo", {"args": ["patch"]})), reply(content="echoed")])
    url = agent_hive(procs, p.url, extra=("--side-effects", "/bin/echo"))
    r = hive("submit", agent_goal(tmp_path, ["exec.echo"], prompt="Try it.", bind={"exec.echo": ["/srv/repo", "make test"]}),
             "--honeycomb", url)

    def before_approval(t):
        assert t["approval"]["runs"] == 'agent [exec.echo ["/srv/repo","make test",…]]: Try it.', t["approval"]
        assert p.requests == [], "nothing ran before the approval"

    task = approve_the_waiting_agent(url, r.stdout.strip(), before_approval)
    assert task["state"] == "succeeded" and json.loads(task["output"])["steps"][0]["result"] == "/srv/repo make test patch\n"
