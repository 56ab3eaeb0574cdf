#!/usr/bin/env python3
"""How often a local model's agent answer carries its tool's result: the measurement behind the llama agent frame.

Starts a honeycombd and one drone on MODEL (exec /bin/date and, when installed, mcp-server-time), submits each case's
agent goal once greedily (temperature 0) and once per seed at --temperature, and prints, per case, how many answers
contain something the tool returned (a year, an hh:mm time or a weekday name from the last successful result).
End to end through honeycombd, like the tests; the real model, nothing post-processed.

    .venv/bin/python3 Tools/agent_answer_rate.py [--model ~/.cache/hive/models/gemma-3-270m-q4_k_m.gguf] [--seeds 5]
"""
import argparse, concurrent.futures, json, os, re, sys, tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "Tests", "cli"))
from conftest import DRONE, Procs, hive, start_honeycombd, wait_for_log  # noqa: E402

CASES = {
    "epoch": ("exec.date", "In which year did the Unix epoch begin? Call exec.date with the arguments -u -d @0 +%Y to "
                           "find out, then answer with the year."),
    "utc-time": ("time.get_current_time", "What is the current time in UTC? Call time.get_current_time with the "
                                          "timezone UTC, then answer with the time."),
    "weekday": ("exec.date", "What is the day of the week today? Use the tool."),
}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def facts(result):
    """What an answer may quote from a tool result: years, hh:mm times, weekday names (full or abbreviated)."""
    low = result.lower()
    out = set(re.findall(r"\b(?:19|20)\d\d\b", result)) | set(re.findall(r"(?<![\d:])\d\d:\d\d", result))
    out |= {d for d in WEEKDAYS if d in low or re.search(rf"\b{d[:3]}\b", low)}
    return out


def carries(transcript):
    ok = [s for s in transcript.get("steps", []) if s.get("tool") and not s.get("is_error")]
    if not ok or not isinstance(transcript.get("answer"), str):
        return False
    answer = transcript["answer"].lower()
    return any(f in answer for f in facts(ok[-1]["result"]))


def run(url, tool, prompt, temperature, seed, scratch):
    agent_input = {"prompt": prompt, "max_tokens": 96, "temperature": temperature,
                   "agent": {"tools": [tool], "max_steps": 3, "call_timeout_ms": 10_000}}
    if seed is not None:
        agent_input["seed"] = seed
    path = os.path.join(scratch, f"{tool}-{temperature}-{seed}.json")
    with open(path, "w") as f:
        json.dump({"root": {"kind": "agent", "timeout_ms": 280_000, "max_attempts": 1, "input": agent_input}}, f)
    r = hive("submit", path, "--wait", "--json", "--honeycomb", url, timeout=300)
    task = json.loads(r.stdout)["tasks"][0]
    return json.loads(task["output"]) if "output" in task else {"error": task}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.environ.get("HIVE_GEMMA", os.path.expanduser("~/.cache/hive/models/gemma-3-270m-q4_k_m.gguf")))
    ap.add_argument("--seeds", type=int, default=5, help="sampled runs per case besides the greedy one (default 5)")
    ap.add_argument("--temperature", type=float, default=0.7, help="temperature of the sampled runs (default 0.7)")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ",".join(CASES))
    ap.add_argument("--verbose", action="store_true", help="print each answer")
    a = ap.parse_args()
    procs = Procs()
    try:
        url = start_honeycombd(procs).url
        args = [DRONE, "--honeycomb", url, "--model", a.model, "--slots", "2", "--ctx", "2048", "--name", "rate",
                "--allow-exec", "/bin/date"]
        server = os.path.join(os.path.dirname(sys.executable), "mcp-server-time")
        cases = [c for c in a.cases.split(",") if c]
        if os.path.exists(server):
            args += ["--mcp", f"time={server}", "--mcp-read-only", "time"]
        else:
            cases = [c for c in cases if CASES[c][0] != "time.get_current_time"]
        wait_for_log(procs.start(args), "event=joined", timeout=60)
        scratch = tempfile.mkdtemp(prefix="hive-rate-")
        runs = [(c, 0.0, None) for c in cases] + [(c, a.temperature, s) for c in cases for s in range(1, a.seeds + 1)]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            outs = list(pool.map(lambda r: run(url, *CASES[r[0]], r[1], r[2], scratch), runs))
        for c in cases:
            mine = [(r, o) for r, o in zip(runs, outs) if r[0] == c]
            greedy = [carries(o) for r, o in mine if r[2] is None][0]
            sampled = sum(carries(o) for r, o in mine if r[2] is not None)
            print(f"case={c} greedy_carries={str(greedy).lower()} sampled_carries={sampled}/{a.seeds} "
                  f"temperature={a.temperature}")
            if a.verbose:
                for r, o in mine:
                    last = [s["result"].strip()[:80] for s in o.get("steps", [])][-1:]
                    print(f"  seed={r[2]} carries={str(carries(o)).lower()} result={json.dumps(last)} "
                          f"answer={json.dumps(o.get('answer', o.get('error')))}")
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
