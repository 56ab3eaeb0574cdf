"""A drone never trusts what it is sent: real honeycombd and drone processes given hostile tasks (fd hoarding modules,
exec tasks that fork and outlive their timeout, loader variables, absurd numbers) and hostile surroundings (a wrong
port, a wrong token). The drone stays up, says why, and stops when told."""
import json, os, signal, subprocess, threading, time

import pytest

from conftest import DRONE, free_port, hive, require_tool, wait_for_log, wait_until
from test_control_plane import drones_by_name, start_drones, start_honeycombd, submit_wait
from test_wasm import add, compile_c

HUGE = 1152921504606846976  # the audit's memory_mb: once an overflow that crashed each drone the task was retried on


def gone(pid):
    """The process no longer exists (or is a zombie, holding nothing, waiting for its reaper)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def run_plan(url, tmp_path, root, name="plan"):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "root": root}))
    return submit_wait(url, str(path))


@pytest.fixture
def hive_one_drone(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    (drone,) = start_drones(procs, url, 1, slots=3, allow="/bin/sh,/bin/sleep")
    return url, drone


HOARDER = r"""
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
int main(void) {
    int n = 0;
    char path[64];
    for (;;) {
        snprintf(path, sizeof path, "/scratch/f%d", n);
        if (open(path, O_CREAT | O_WRONLY, 0644) < 0) break;
        n++;
    }
    int why = errno;
    volatile unsigned spin = 0;
    for (unsigned i = 0; i < 3000000; i++) spin++;  /* hold them a while, beside the exec tasks */
    printf("%d %s\n", n, why == EMFILE ? "EMFILE" : "other");
    return 0;
}
"""


def test_a_module_hoarding_files_gets_its_share_and_exec_keeps_working(hive_one_drone, tmp_path):
    url, drone = hive_one_drone
    _, digest, err = add(url, compile_c(tmp_path, "hoard", HOARDER))
    assert len(digest) == 64, err
    before = open_fds(drone.pid)
    exec_ok = {"kind": "exec", "input": {"command": "/bin/sh", "args": ["-c", "echo exec ok"]}}
    code, r = run_plan(url, tmp_path, {"kind": "fork", "join": "all", "children": [
        {"kind": "wasm", "input": {"module": digest, "scratch": True}}, exec_ok, exec_ok]})
    assert code == 0, r["goal"]
    outputs = sorted(t["output"] for t in r["tasks"] if t.get("output"))
    assert outputs == ["64 EMFILE\n", "exec ok\n", "exec ok\n"], "the module got --wasm-max-open-files (64), no more"
    # Every descriptor the module opened went back when it ended, and exec still runs afterwards.
    wait_until(f"the drone back to at most {before + 4} open descriptors", lambda: open_fds(drone.pid) <= before + 4, timeout=10)
    code, r = submit_wait(url, "--exec", "/bin/sh", "-c", "echo after", "--count", "3")
    assert code == 0 and [t["output"] for t in r["tasks"]] == ["after\n"] * 3
    assert drone.poll() is None


def test_an_exec_timeout_ends_the_task_and_kills_its_grandchild(hive_one_drone, tmp_path):
    url, drone = hive_one_drone
    pidfile = tmp_path / "grandchild.pid"
    started = time.monotonic()
    code, r = run_plan(url, tmp_path, {"kind": "exec", "timeout_ms": 2000, "max_attempts": 1, "input": {
        "command": "/bin/sh", "args": ["-c", f"/bin/sleep 15 & echo $! > {pidfile}; wait"]}})
    took = time.monotonic() - started
    assert code == 1
    task = r["tasks"][0]
    assert task["state"] == "dead" and "timed out after 2000 ms" in task["error"], task
    assert took < 10, f"the slot was held {took:.1f} s"
    pid = int(pidfile.read_text())
    wait_until("the task's /bin/sleep gone after its timeout", lambda: gone(pid), timeout=5)
    assert drone.poll() is None


def test_ld_preload_in_a_tasks_environment_never_reaches_the_child(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    start_drones(procs, url, 1, allow="/bin/sh")
    marker = tmp_path / "ran"
    code, r = run_plan(url, tmp_path, {"kind": "exec", "max_attempts": 1, "input": {
        "command": "/bin/sh", "args": ["-c", f"echo \"[$LD_PRELOAD]\" > {marker}"],
        "env": {"LD_PRELOAD": "/tmp/evil.so", "HIVE_NOTE": "x"}}})
    assert code == 1
    error = r["tasks"][0]["error"]
    assert "environment variable LD_PRELOAD is not allowed on this drone" in error and "--exec-env-allow" in error
    assert not marker.exists(), "the process never started with the loader variable"
    # Names the drone allows pass; the drone's own PATH stays.
    code, r = run_plan(url, tmp_path, {"kind": "exec", "input": {
        "command": "/bin/sh", "args": ["-c", "echo $HIVE_NOTE $PATH"], "env": {"HIVE_NOTE": "allowed"}}}, name="ok")
    assert code == 0 and r["tasks"][0]["output"] == "allowed /usr/local/bin:/usr/bin:/bin\n"


# Twelve funcref tables of ten million elements: the audit's 111-byte module that cost 0.7 GB per task.
TWELVE_TABLES = bytes([0, 0x61, 0x73, 0x6D, 1, 0, 0, 0, 4, 73, 12]) + bytes([0x70, 0x00, 0x80, 0xAD, 0xE2, 0x04]) * 12


def refused_at_submission(url, tmp_path, root, field):
    """honeycombd refuses the number with the field's name: nothing reaches a drone."""
    path = tmp_path / "refused.json"
    path.write_text(json.dumps({"name": "refused", "root": root}))
    r = hive("submit", str(path), "--json", "--honeycomb", url)
    return r.returncode != 0 and field in r.stderr


def under_stand_in(procs, drone_args, talk, modules=None):
    """A compromised or buggy control plane: a stand-in on a plain nats-server welcomes a drone, serves it modules,
    and hands `talk(nc, drone_id, results)` the bus to assign it tasks directly. Returns the drone process and what
    `talk` returns."""
    import asyncio
    import nats

    bus = f"nats://127.0.0.1:{procs.nats_server()}"

    async def control_plane():
        nc = await nats.connect(bus)
        joined = asyncio.get_running_loop().create_future()

        async def hello(msg):
            await msg.respond(json.dumps({"accepted": True, "heartbeat_ms": 1000}).encode())
            if not joined.done():
                joined.set_result(json.loads(msg.data)["drone"])

        async def heartbeat(msg):
            await msg.respond(b'{"known": true}')

        async def module_get(msg):
            await msg.respond((modules or {})[json.loads(msg.data)["module"]])

        await nc.subscribe("hive.v1.drone.*.hello", cb=hello)
        await nc.subscribe("hive.v1.drone.*.hb", cb=heartbeat)
        await nc.subscribe("hive.v1.api.module_get", cb=module_get)
        results = await nc.subscribe("hive.v1.drone.*.result")
        await nc.flush()
        d = procs.start([DRONE, "--honeycomb", bus, *drone_args])
        # llama.cpp writes plenty to stderr when a context is made: keep reading so the drone never blocks on it.
        threading.Thread(target=lambda: [None for _ in d.stderr], daemon=True).start()
        drone_id = await asyncio.wait_for(joined, 60)
        try:
            return d, await talk(nc, drone_id, results)
        finally:
            await nc.close()

    return asyncio.run(control_plane())


def run_under_stand_in(procs, drone_args, kind, task_input, modules=None):
    """The stand-in sends the numbers anyway, in one task: the drone's own clamps are all that stand between those
    numbers and a crash. Returns the drone process and its result."""

    async def one_task(nc, drone_id, results):
        await nc.publish(f"hive.v1.drone.{drone_id}.task", json.dumps({
            "task": "x1.0", "goal": "x1", "attempt": 1, "token": "direct", "kind": kind, "input": task_input,
            "index": 0, "timeout_ms": 20000}).encode())
        while True:
            r = json.loads((await results.next_msg(timeout=60)).data)
            if r["task"] == "x1.0":
                return r

    return under_stand_in(procs, drone_args, one_task, modules)


def test_absurd_wasm_numbers_are_refused_by_honeycombd_and_clamped_by_the_drone(procs, hive_one_drone, tmp_path):
    url, drone = hive_one_drone
    _, upper, _ = add(url, compile_c(tmp_path, "hello", '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n'))
    hostile = {"module": upper, "memory_mb": HUGE, "fuel": 2**62}
    assert refused_at_submission(url, tmp_path, {"kind": "wasm", "input": {"module": upper, "memory_mb": HUGE}}, "memory_mb")
    assert refused_at_submission(url, tmp_path, {"kind": "wasm", "input": {"module": upper, "fuel": 2**62}}, "fuel")
    wasm = (tmp_path / "hello.wasm").read_bytes()
    d, r = run_under_stand_in(procs, [], "wasm", hostile, modules={upper: wasm})
    assert r["outcome"] == "succeeded" and r["output"] == "hi\n", r  # clamped to the drone's maxima
    assert d.poll() is None
    (tmp_path / "tables.wasm").write_bytes(TWELVE_TABLES)
    code, tables, err = add(url, tmp_path / "tables.wasm")
    assert code == 0, err
    code, r = run_plan(url, tmp_path, {"kind": "wasm", "input": {"module": tables}}, name="tables")
    task = r["tasks"][0]
    assert code == 1 and task["state"] == "dead" and task["attempts"] == 1, task
    assert "tables need 120000000 elements" in task["error"] and "--wasm-max-table-elements" in task["error"]
    assert drone.poll() is None
    assert len(json.loads(hive("drones", "--json", "--honeycomb", url).stdout)) == 1


def test_a_huge_top_k_is_refused_by_honeycombd_and_clamped_by_a_model_drone(procs, tmp_path, tiny_model):
    hc = start_honeycombd(procs, tmp_path)
    url = hc.url
    hostile = {"prompt": "the hive", "max_tokens": 4, "top_k": 3000000000, "temperature": 0.7, "seed": 1}
    assert refused_at_submission(url, tmp_path, {"kind": "model", "input": hostile}, "top_k")
    hc.send_signal(signal.SIGTERM)
    hc.wait(timeout=15)

    d, r = run_under_stand_in(procs, ["--model", tiny_model, "--ctx", "256"], "model", hostile)
    assert r["outcome"] == "succeeded" and r["usage"]["generated_tokens"] >= 1, r
    assert d.poll() is None


def stops_promptly(proc, sig=signal.SIGTERM, within=5.0):
    proc.send_signal(sig)
    started = time.monotonic()
    proc.wait(timeout=within + 5)
    return time.monotonic() - started < within


def test_a_drone_pointed_at_a_wrong_port_warns_why_and_stops_on_sigterm(procs):
    port = free_port()  # a closed port
    d = procs.start([DRONE, "--honeycomb", f"nats://127.0.0.1:{port}", "--name", "lost"])
    lines = "".join(wait_for_log(d, "event=connect_failed", timeout=10))
    assert "level=warn" in lines and "Connection refused" in lines, lines
    assert stops_promptly(d)
    d2 = procs.start([DRONE, "--honeycomb", f"nats://127.0.0.1:{port}", "--name", "lost"])
    wait_for_log(d2, "event=connect_failed", timeout=10)
    assert stops_promptly(d2, signal.SIGINT)
    # The CLI on the same wrong port: a clear error at once, not a hang.
    started = time.monotonic()
    r = hive("status", "--honeycomb", f"nats://127.0.0.1:{port}", timeout=30)
    assert r.returncode != 0 and f"127.0.0.1:{port}" in r.stderr, r.stderr
    assert time.monotonic() - started < 15


def test_a_drone_with_a_wrong_token_warns_why_and_stops_on_sigterm(procs, tmp_path):
    port = start_honeycombd(procs, tmp_path, extra={"auth": {"token": "right"}}).port
    d = procs.start([DRONE, "--honeycomb", f"nats://wrong@127.0.0.1:{port}", "--name", "locked-out"])
    lines = "".join(wait_for_log(d, "event=connect_failed", timeout=10))
    assert "level=warn" in lines and "Authorization Violation" in lines, lines
    assert "wrong" not in lines, "the token is never logged"
    assert stops_promptly(d)
    started = time.monotonic()
    r = hive("status", "--honeycomb", f"nats://wrong@127.0.0.1:{port}", timeout=30)
    assert r.returncode != 0 and "refused the credentials" in r.stderr, r.stderr
    assert "wrong" not in r.stderr and f"nats://127.0.0.1:{port}" in r.stderr, "the token is never repeated"
    assert time.monotonic() - started < 15


def test_a_drone_on_a_bus_without_honeycombd_stops_on_sigterm(procs):
    port = procs.nats_server()
    d = procs.start([DRONE, "--honeycomb", f"nats://127.0.0.1:{port}", "--name", "waiting"])
    wait_for_log(d, "event=hello_unanswered", timeout=10)
    assert stops_promptly(d)


def test_a_joined_drone_whose_honeycombd_died_stops_on_sigterm(procs, tmp_path):
    hc = start_honeycombd(procs, tmp_path)
    (d,) = start_drones(procs, hc.url, 1)
    hc.send_signal(signal.SIGKILL)
    hc.wait()
    wait_for_log(d, "event=reconnect_failed", timeout=10)
    assert stops_promptly(d)


def test_a_second_signal_while_draining_leaves_at_once_and_takes_the_exec_group_along(hive_one_drone, tmp_path):
    url, drone = hive_one_drone
    pidfile = tmp_path / "sleeper.pid"
    sub = subprocess.Popen([os.environ.get("HIVE", "hive"), "submit", "--exec", "/bin/sh", "-c",
                            f"/bin/sleep 30 & echo $! > {pidfile}; wait", "--honeycomb", url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sub.communicate(timeout=15)
    wait_until("the task's pid file", lambda: pidfile.exists() and pidfile.read_text().strip() != "", timeout=10)
    pid = int(pidfile.read_text())
    drone.send_signal(signal.SIGTERM)  # drains: the running task gets its grace period
    wait_until("honeycombd to list the drone as draining",
               lambda: drones_by_name(url).get("d0", {}).get("state") == "draining")
    assert drone.poll() is None, "a drone with a running task drains; it does not leave at the first signal"
    assert stops_promptly(drone, signal.SIGTERM, within=3)
    wait_until("the task's process group gone with the drone", lambda: gone(pid), timeout=5)


# The audit's module: 1024 iovecs, each naming the whole 64 MiB memory, written to stdout for ever (64 GiB of copying a
# call, the clock looked at once a million calls): it ran past every timeout and piled threads up on 1-slot drones.
AMPLIFIER = """
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1024)
  (func (export "_start") (local $k i32)
    (block $done (loop $fill
      (br_if $done (i32.ge_u (local.get $k) (i32.const 1024)))
      (i32.store (i32.mul (local.get $k) (i32.const 8)) (i32.const 0))
      (i32.store (i32.add (i32.mul (local.get $k) (i32.const 8)) (i32.const 4)) (i32.const 0x4000000))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $fill)))
    (loop $forever
      (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1024) (i32.const 16384)))
      (br $forever))))
"""


def wasm_threads(pid):
    """Threads of `pid` running a wasm module (named wasm-<task>)."""
    n = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/comm") as f:
                n += f.read().startswith("wasm-")
        except FileNotFoundError:
            pass
    return n


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_the_iovec_amplifier_ends_at_its_timeout_and_never_holds_more_threads_than_slots(procs, tmp_path):
    wat2wasm = require_tool("wat2wasm", package="wabt")
    url = start_honeycombd(procs, tmp_path).url
    drone = procs.start([DRONE, "--honeycomb", url, "--name", "amp", "--slots", "1"])
    wait_for_log(drone, "event=joined")
    (tmp_path / "amp.wat").write_text(AMPLIFIER)
    subprocess.run([wat2wasm, str(tmp_path / "amp.wat"), "-o", str(tmp_path / "amp.wasm")], check=True)
    code, module, err = add(url, tmp_path / "amp.wasm")
    assert code == 0, err

    # Three at once on one slot, sampled all along: never more than one module thread on the drone.
    most, stop = [0], threading.Event()

    def sample():
        while not stop.is_set():
            most[0] = max(most[0], wasm_threads(drone.pid))
            time.sleep(0.01)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    results = [None] * 3
    started = time.monotonic()

    def one(k):
        results[k] = run_plan(url, tmp_path, {"kind": "wasm", "timeout_ms": 1000, "max_attempts": 1,
                                              "input": {"module": module}}, name=f"amp{k}")
    runners = [threading.Thread(target=one, args=(k,)) for k in range(3)]
    for r in runners:
        r.start()
    for r in runners:
        r.join(timeout=90)
    took = time.monotonic() - started
    stop.set()
    sampler.join()
    for code, r in results:
        task = r["tasks"][0]
        assert task["state"] == "dead" and "timeout" in task["error"], task
    assert took < 30, f"three 1 s tasks took {took:.1f} s"
    assert most[0] <= 1, f"{most[0]} wasm threads on a 1-slot drone"
    wait_until("every module thread gone with its task", lambda: wasm_threads(drone.pid) == 0, timeout=10)
    before = cpu_seconds(drone.pid)
    time.sleep(1.0)  # a measuring window, not a wait for state: an idle drone burns next to no CPU in it
    assert cpu_seconds(drone.pid) - before < 0.5, "the drone still burns CPU after its tasks ended"
    assert drone.poll() is None


def test_a_second_assignment_of_a_running_task_is_released_not_run(procs):
    """A publisher on the drone's task subject reusing a running task's id gets the copy released: one run per task
    id, and never more runs than slots."""
    import asyncio

    async def duplicates(nc, drone_id, results):
        def assignment(attempt, token):
            return json.dumps({"task": "x1.0", "goal": "x1", "attempt": attempt, "token": token, "kind": "sleep",
                               "input": {"sleep_ms": 1500}, "index": 0, "timeout_ms": 20000}).encode()
        await nc.publish(f"hive.v1.drone.{drone_id}.task", assignment(1, "first"))
        await nc.publish(f"hive.v1.drone.{drone_id}.task", assignment(1, "first"))  # the same again: dropped
        await nc.publish(f"hive.v1.drone.{drone_id}.task", assignment(2, "second"))  # another attempt: released
        got = []
        while len(got) < 2:
            got.append(json.loads((await results.next_msg(timeout=30)).data))
        with pytest.raises(asyncio.TimeoutError):
            got.append(json.loads((await results.next_msg(timeout=2)).data))  # nothing more: one run
        return got

    d, got = under_stand_in(procs, ["--slots", "2"], duplicates)
    released, done = got
    assert released["outcome"] == "released" and released["token"] == "second", released
    assert "already running" in released["error"], released
    assert done["outcome"] == "succeeded" and done["token"] == "first", done
    assert d.poll() is None


def test_an_exec_task_of_a_drone_killed_with_sigkill_is_killed_when_the_drone_comes_back(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime))
    args = [DRONE, "--honeycomb", url, "--name", "phoenix", "--slots", "1", "--allow-exec", "/bin/sh,/bin/sleep"]
    drone = procs.start(args, env=env)
    wait_for_log(drone, "event=joined")
    leader, child = tmp_path / "leader.pid", tmp_path / "child.pid"
    sub = subprocess.Popen([os.environ.get("HIVE", "hive"), "submit", "--exec", "/bin/sh", "-c",
                            f"echo $$ > {leader}; /bin/sleep 120 & echo $! > {child}; wait", "--honeycomb", url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sub.communicate(timeout=15)
    wait_until("the task's child pid file", lambda: child.exists() and child.read_text().strip() != "", timeout=15)
    leader_pid, child_pid = int(leader.read_text()), int(child.read_text())
    # The drone records the group just after it starts it: the child's pid file can come first.
    record = runtime / "hive-drone" / "phoenix.pgids"
    wait_until("the drone's record to hold the drone and one group",
               lambda: record.exists() and record.read_text().count("\n") == 2, timeout=10)
    drone.kill()
    drone.wait(timeout=5)
    # The leader dies with the drone (PR_SET_PDEATHSIG); what it started lives on until the drone is back.
    wait_until("the task's leader gone with its drone", lambda: gone(leader_pid), timeout=5)
    assert not gone(child_pid), "nothing else killed the task's child (the test would prove nothing)"
    again = procs.start(args, env=env)
    wait_until("the restarted drone to kill its predecessor's task", lambda: gone(child_pid), timeout=10)
    wait_for_log(again, "event=leftover_group_killed")
    assert again.poll() is None
