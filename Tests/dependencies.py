"""What the Python test suites need from outside the repository, in one place.

`make deps` installs all of it (Tools/deps.sh). A test whose tool or module is missing fails with one line naming
the package that provides it (`wat2wasm not found: run make deps (Debian package wabt)`), never with a traceback,
and never by skipping: a skipped test would hide that `make test` did not test everything.

As a script, `python3 Tests/dependencies.py --missing --llama-version V` prints the PyPI requirements of
Tools/requirements.txt (and llama-cpp-python==V) that this interpreter cannot import, one a line: Tools/deps.sh
installs those.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import sys

REQUIREMENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tools", "requirements.txt")
LLAMA_CPP_PYTHON = "llama-cpp-python"


def python_requirements(path: str = REQUIREMENTS) -> list[tuple[str, str]]:
    """(PyPI requirement, module it provides) for each line of Tools/requirements.txt (`pkg  #import: module`)."""
    found = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            requirement, _, comment = line.partition("#")
            requirement = requirement.strip()
            if not requirement:
                continue
            module = comment.split("import:", 1)[1].strip() if "import:" in comment else ""
            if not module:
                raise ValueError(f"{path}: '{requirement}' has no '#import: MODULE' comment")
            found.append((requirement, module))
    return found


def importable(module: str) -> bool:
    """True when `module` can be imported, without importing it (llama_cpp would load its shared library)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def missing_python_packages(llama_version: str | None = None) -> list[str]:
    """The requirements this interpreter lacks; llama-cpp-python counts only at exactly `llama_version`."""
    missing = [req for req, module in python_requirements() if not importable(module)]
    if llama_version is not None:
        try:
            installed = importlib.metadata.version(LLAMA_CPP_PYTHON)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != llama_version:
            missing.append(f"{LLAMA_CPP_PYTHON}=={llama_version}")
    return missing


def missing_tool_message(name: str, package: str) -> str | None:
    """None when `name` is on PATH; otherwise the one line a test fails with."""
    if shutil.which(name):
        return None
    return f"{name} not found: run make deps (Debian package {package})"


def require_tool(name: str, package: str) -> str:
    """The path of tool `name` on PATH; fails the calling test (no traceback) naming the Debian `package`."""
    import pytest

    message = missing_tool_message(name, package)
    if message:
        pytest.fail(message, pytrace=False)
    return shutil.which(name)


def require_file(pattern: str, package: str) -> str:
    """The last (newest-versioned) file matching glob `pattern`; fails the calling test naming the Debian `package`
    when there is none (headers and libraries, which are not on PATH)."""
    import glob
    import pytest

    matches = sorted(glob.glob(pattern))
    if not matches:
        pytest.fail(f"{pattern} not found: run make deps (Debian package {package})", pytrace=False)
    return matches[-1]


def require_python_module(module: str, package: str) -> None:
    """Fails the calling test (no traceback) when `module` cannot be imported, naming the PyPI `package`."""
    import pytest

    if not importable(module):
        pytest.fail(f"Python module {module} not found in {sys.executable}: run make deps (PyPI package {package})",
                    pytrace=False)


def require_python_packages() -> None:
    """Stops the pytest run before collection, with one line naming the packages, when a module the suites import
    is missing (collection would otherwise fail file by file with ImportError tracebacks)."""
    import pytest

    missing = missing_python_packages()
    if missing:
        raise pytest.UsageError(f"Python packages missing from {sys.executable}: {' '.join(missing)}: run make deps "
                                f"(it installs Tools/requirements.txt into .venv)")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--missing", action="store_true", help="print the requirements this interpreter lacks")
    ap.add_argument("--llama-version", help=f"also require {LLAMA_CPP_PYTHON} at this version")
    args = ap.parse_args()
    if args.missing:
        for requirement in missing_python_packages(args.llama_version):
            print(requirement)
