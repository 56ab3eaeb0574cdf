"""What the suites need from outside the repository (Tests/dependencies.py, installed by make deps): a missing tool
fails the test with one line naming its package, and the requirements list is one the checks can read."""
import os, subprocess, sys

import pytest

from conftest import ROOT, require_tool

sys.path.insert(0, os.path.join(ROOT, "Tools"))
import dependencies  # noqa: E402  (Tests/, put on sys.path by conftest)
import embed_prompts  # noqa: E402  (Tools/)


def failure(call):
    with pytest.raises(pytest.fail.Exception) as e:
        call()
    return str(e.value)


def test_a_missing_tool_fails_with_one_line_naming_its_package(monkeypatch, tmp_path):
    assert failure(lambda: require_tool("hive-no-such-tool", package="hive-pkg")) == \
        "hive-no-such-tool not found: run make deps (Debian package hive-pkg)"
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without wabt's directory
    assert failure(lambda: require_tool("wat2wasm", package="wabt")) == \
        "wat2wasm not found: run make deps (Debian package wabt)"
    assert failure(lambda: dependencies.require_file(str(tmp_path / "nothing-*.a"), package="libfoo-dev")) == \
        f"{tmp_path}/nothing-*.a not found: run make deps (Debian package libfoo-dev)"
    assert failure(lambda: dependencies.require_python_module("hive_no_such_module", package="hive-pkg")) == \
        f"Python module hive_no_such_module not found in {sys.executable}: run make deps (PyPI package hive-pkg)"


def test_every_requirement_names_the_module_the_suites_check_and_this_interpreter_has_them_all():
    requirements = dependencies.python_requirements()
    assert ("nats-py", "nats") in requirements and ("gguf", "gguf") in requirements
    assert dependencies.missing_python_packages() == []


def test_an_interpreter_without_the_packages_lists_each_for_make_deps():
    # -S: no site-packages, so nothing from Tools/requirements.txt is importable.
    r = subprocess.run([sys.executable, "-S", os.path.join(ROOT, "Tests", "dependencies.py"), "--missing",
                        "--llama-version", "0.0.1"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [req for req, _ in dependencies.python_requirements()] + ["llama-cpp-python==0.0.1"]


def test_the_built_in_prompts_are_current_and_their_literals_cannot_be_ended_by_the_text(tmp_path):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "Tools", "embed_prompts.py"), "--check"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert embed_prompts.literal("a") == '#"""\na\n"""#'
    assert embed_prompts.literal('say """# or \\# here') == '##"""\nsay """# or \\# here\n"""##'
    with pytest.raises(ValueError):
        embed_prompts.literal("windows\r\n")
    (tmp_path / "explore.txt").write_text("{{task}}")
    assert '"explore": #"""\n{{task}}\n"""#,' in embed_prompts.generate(str(tmp_path))
