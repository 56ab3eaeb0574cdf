"""WebAssembly tasks end to end: hive module add, honeycombd's module store, drones fetching, verifying and
running modules in HiveWasm. Modules are compiled here from C (clang --target=wasm32-wasi, Debian wasi-libc)."""
import hashlib, json, signal, subprocess

import pytest

from conftest import hive, require_file, require_tool
from test_control_plane import start_drones, start_honeycombd, submit_wait


def compile_c(tmp_path, name, source):
    c = tmp_path / f"{name}.c"
    c.write_text(source)
    out = tmp_path / f"{name}.wasm"
    require_file("/usr/include/wasm32-wasi/stdio.h", package="wasi-libc")
    rt = require_file("/usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a", package="libclang-rt-dev-wasm32")
    subprocess.run(["clang", "--target=wasm32-wasi", "--sysroot=/usr", "-O2", str(c), "-nodefaultlibs", "-lc", rt,
                    "-o", str(out)], check=True)
    return out


UPPER = r"""
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    int c; while ((c = getchar()) != EOF) putchar(toupper(c));
    printf("[%s %s]\n", argv[0], getenv("HIVE_TASK_INDEX"));
    return 0;
}
"""


def add(url, path):
    r = hive("module", "add", str(path), "--honeycomb", url)
    return r.returncode, r.stdout.strip(), r.stderr


@pytest.fixture
def hive_url(procs, tmp_path):
    hc = start_honeycombd(procs, tmp_path, data=tmp_path / "data")
    start_drones(procs, hc.url, 2, slots=2)
    return hc.url, hc, hc.port


def test_a_module_added_by_hash_runs_on_drones_with_the_input(hive_url, tmp_path):
    url, _, _ = hive_url
    wasm = compile_c(tmp_path, "upper", UPPER)
    code, digest, err = add(url, wasm)
    assert code == 0, err
    assert digest == hashlib.sha256(wasm.read_bytes()).hexdigest()
    (tmp_path / "in.txt").write_text("swarm of bees\n")
    code, r = submit_wait(url, "--wasm", digest, "--input", str(tmp_path / "in.txt"), "--count", "3")
    assert code == 0 and r["goal"]["state"] == "succeeded", r
    for t in r["tasks"]:  # argv[0] is the task id; the environment carries the task's index
        assert t["output"] == f"SWARM OF BEES\n[{t['task']} {t['index']}]\n"
    assert sorted(t["index"] for t in r["tasks"]) == [0, 1, 2]
    fuel = {t["fuel"] for t in r["tasks"]}
    assert len(fuel) == 1 and fuel.pop() > 1000  # deterministic: the same input costs the same instructions


def test_invalid_modules_are_refused_at_add_and_unknown_ones_fail_the_task(hive_url, tmp_path):
    url, _, _ = hive_url
    (tmp_path / "bad.wasm").write_bytes(b"\x00asm\x01\x00\x00\x00\x01\x05\x01\x60\x01\x7b\x00")
    code, _, err = add(url, tmp_path / "bad.wasm")
    assert code == 65 and "v128 (SIMD) is not supported" in err
    code, r = submit_wait(url, "--wasm", "ab" * 32)
    assert code == 1
    task = r["tasks"][0]
    assert task["state"] == "dead" and task["attempts"] == 1 and "unknown module" in task["error"]


def test_traps_and_fuel_are_task_results_not_crashes(hive_url, tmp_path):
    url, _, _ = hive_url
    spin = compile_c(tmp_path, "spin", "int main(void) { volatile unsigned n = 0; for (;;) n++; }\n")
    crash = compile_c(tmp_path, "crash", "int main(int c, char **v) { volatile int z = c - 1; return 10 / z; }\n")
    _, spin_hash, _ = add(url, spin)
    _, crash_hash, _ = add(url, crash)
    code, r = submit_wait(url, "--wasm", spin_hash, "--fuel", "100000")
    assert code == 1 and "trap: fuel exhausted" in r["tasks"][0]["error"] and r["tasks"][0]["attempts"] == 1
    code, r = submit_wait(url, "--wasm", crash_hash)
    assert code == 1 and "trap: integer divide by zero" in r["tasks"][0]["error"]
    # The drones are still there and still work.
    assert len(json.loads(hive("drones", "--json", "--honeycomb", url).stdout)) == 2


def test_modules_survive_a_honeycombd_sigkill(hive_url, procs, tmp_path):
    url, hc, port = hive_url
    wasm = compile_c(tmp_path, "upper", UPPER)
    _, digest, _ = add(url, wasm)
    hc.send_signal(signal.SIGKILL)
    hc.wait()
    start_honeycombd(procs, tmp_path, data=tmp_path / "data", port=port)
    (tmp_path / "in.txt").write_text("after restart\n")
    code, r = submit_wait(url, "--wasm", digest, "--input", str(tmp_path / "in.txt"))
    assert code == 0 and r["tasks"][0]["output"].startswith("AFTER RESTART\n"), r


def test_a_plan_step_can_check_its_candidates_with_a_wasm_module(hive_url, tmp_path):
    url, _, _ = hive_url
    # The check: exit 0 only when the candidate (on stdin) is a multiple of 7.
    check = compile_c(tmp_path, "check", "#include <stdio.h>\nint main(void) { long n = 0; if (scanf(\"%ld\", &n) != 1) return 2;"
                                          " return n % 7 == 0 ? 0 : 1; }\n")
    _, digest, _ = add(url, check)
    plan = {"goal": "a multiple of 7", "steps": [{
        "id": "n", "n": 4, "join": "vote",
        "exec": {"command": "/bin/sh", "args": ["-c", "echo $(( (HIVE_CANDIDATE + 1) * 7 - (HIVE_CANDIDATE % 2) ))"]},
        "verify": {"module": digest}}]}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    code, r = submit_wait(url, str(path))
    assert code == 0, r["goal"]
    assert [c["verified"] for c in r["steps"][0]["candidates"]] == [True, False, True, False]
    checks = [t for t in r["tasks"] if t.get("role") == "verify"]
    assert len(checks) == 4 and all(t["kind"] == "wasm" for t in checks)


def test_a_cancelled_goal_stops_its_running_module_and_frees_the_slot(procs, tmp_path):
    url = start_honeycombd(procs, tmp_path).url
    start_drones(procs, url, 1, slots=1)
    spin = compile_c(tmp_path, "spin", "int main(void) { volatile unsigned n = 0; for (;;) n++; }\n")
    _, spin_hash, _ = add(url, spin)
    code, r = submit_wait(url, "--wasm", spin_hash, "--deadline-ms", "500")
    assert code == 1 and "deadline" in r["goal"]["reason"]
    # The only slot is free again: the cancel interrupted the module (no fuel or timeout would have).
    wasm = compile_c(tmp_path, "upper", UPPER)
    _, digest, _ = add(url, wasm)
    code, r = submit_wait(url, "--wasm", digest, "--deadline-ms", "10000")
    assert code == 0 and r["tasks"][0]["output"].startswith("[")


def test_a_granted_scratch_directory_is_the_modules_own(hive_url, tmp_path):
    url, _, _ = hive_url
    tool = compile_c(tmp_path, "tool", r"""
#include <stdio.h>
int main(void) {
    FILE *f = fopen("/scratch/a.txt", "w");
    if (!f) { puts("no scratch"); return 0; }
    fputs("kept for the task\n", f); fclose(f);
    char line[64] = {0}; f = fopen("/scratch/a.txt", "r"); fgets(line, sizeof line, f); fclose(f);
    printf("%s", line);
    return 0;
}
""")
    _, digest, _ = add(url, tool)
    code, r = submit_wait(url, "--wasm", digest, "--scratch")
    assert code == 0 and r["tasks"][0]["output"] == "kept for the task\n"
    code, r = submit_wait(url, "--wasm", digest)
    assert code == 0 and r["tasks"][0]["output"] == "no scratch\n"


def test_a_module_larger_than_one_message_moves_in_parts(hive_url, tmp_path):
    url, _, _ = hive_url
    # 1.5 MiB of data (honeycombd's max_payload is 1 MiB): the module prints the last five bytes of it.
    filler = 1536 * 1024
    wat = tmp_path / "big.wat"
    wat.write_text(f"""(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 40)
  (data (i32.const 1024) "{'a' * filler}tail\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const {1024 + filler}))
    (i32.store (i32.const 4) (i32.const 5))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))""")
    wasm = tmp_path / "big.wasm"
    subprocess.run([require_tool("wat2wasm", package="wabt"), str(wat), "-o", str(wasm)], check=True)
    assert wasm.stat().st_size > 1024 * 1024
    code, digest, err = add(url, wasm)
    assert code == 0, err
    assert digest == hashlib.sha256(wasm.read_bytes()).hexdigest()
    code, digest_again, err = add(url, wasm)  # stored already: the first part says so
    assert code == 0 and digest_again == digest, err
    # Drones fetch it in parts too, and check the hash of the whole.
    code, r = submit_wait(url, "--wasm", digest, "--count", "2")
    assert code == 0, r
    assert [t["output"] for t in r["tasks"]] == ["tail\n", "tail\n"]


CAT = r"""
#include <stdio.h>
int main(void) {
    static char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
    return 0;
}
"""


def test_a_binary_input_reaches_the_module_byte_for_byte_and_its_output_comes_back_as_a_blob(hive_url, tmp_path):
    url, _, _ = hive_url
    _, digest, err = add(url, compile_c(tmp_path, "cat", CAT))
    assert digest, err
    data = bytes(range(256)) * 200  # 51,200 bytes, every byte value: not text, over the inline threshold
    (tmp_path / "in.bin").write_bytes(data)
    code, r = submit_wait(url, "--wasm", digest, "--input", str(tmp_path / "in.bin"), "--count", "2")
    assert code == 0, r
    want = {"blob": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}
    assert [t["output_blob"] for t in r["tasks"]] == [want, want]
    out = tmp_path / "out"
    res = hive("result", r["goal"]["goal"], "--output-dir", str(out), "--honeycomb", url)
    assert res.returncode == 0, res.stderr
    assert all((out / t["task"]).read_bytes() == data for t in r["tasks"])
