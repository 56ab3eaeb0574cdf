#!/usr/bin/env bash
# `make deps`: installs what `make test`, `make bench` and `make demo` need from outside the repository, and does
# nothing, in well under a second, when all of it is present. It is safe to run any number of times.
#
#  1. Debian packages, found by cheap checks (a command on PATH, a header, a library file, so a tool installed
#     some other way counts too), installed with apt-get when this runs as root or with passwordless sudo;
#     otherwise it prints the one command to run and fails.
#  2. Python packages (Tools/requirements.txt, and llama-cpp-python at the Makefile's LLAMA_VERSION) in a project
#     venv, .venv, rather than the user site: Debian's Python refuses `pip install --user` (PEP 668, "externally
#     managed"), a venv needs no root, keeps the test tools apart from the system's, and `rm -rf .venv` undoes it.
#     Every Python entry point uses that interpreter: make's PYTHON, hence the pytest suites, benchmarks and demo,
#     and the Swift tests that generate GGUF test models (Tests/ExternalTools). Present means importable with the
#     pinned version where there is one (Tests/dependencies.py --missing), so a damaged venv is repaired.
#
# Usage: Tools/deps.sh VENV LLAMA_VERSION [SYSTEM_PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${1:?usage: Tools/deps.sh VENV LLAMA_VERSION [SYSTEM_PYTHON]}
LLAMA_VERSION=${2:?usage: Tools/deps.sh VENV LLAMA_VERSION [SYSTEM_PYTHON]}
SYSTEM_PYTHON=${3:-python3}

# --- 1. Debian packages ------------------------------------------------------------------------------------------
missing=()
has() { command -v "$1" >/dev/null 2>&1; }
# Building: the system's OpenSSL headers (CTLS); a C++ compiler for llama.cpp (the Swift toolchain's clang++ does).
[ -e /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
has c++ || has g++ || has clang++ || missing+=(g++)
# The venv itself: Debian splits ensurepip out of python3.
if [ ! -x "$VENV/bin/python3" ]; then
    has "$SYSTEM_PYTHON" || missing+=(python3)
    "$SYSTEM_PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
fi
# The reference NATS server; wabt (wat2wasm, wasm-interp), wasi-libc and the wasm32 builtins, with which the
# WebAssembly tests assemble text modules and compile C to wasm32-wasi.
has nats-server || missing+=(nats-server)
{ has wat2wasm && has wasm-interp; } || missing+=(wabt)
[ -e /usr/include/wasm32-wasi/stdio.h ] || missing+=(wasi-libc)
compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a' >/dev/null || missing+=(libclang-rt-dev-wasm32)
# systemd-analyze checks the shipped units (nothing is started); headless Chromium loads the dashboard; the openssl
# and curl tools check certificates and HTTPS from outside.
has systemd-analyze || missing+=(systemd)
has chromium || has chromium-browser || missing+=(chromium)
has openssl || missing+=(openssl)
has curl || missing+=(curl)
# make bench: wrk drives the HTTP benchmark.
has wrk || missing+=(wrk)

if [ ${#missing[@]} -gt 0 ]; then
    command="apt-get install -y --no-install-recommends ${missing[*]}"
    if ! has apt-get; then
        echo "make deps: missing ${missing[*]} (Debian package names) and there is no apt-get: install their equivalents" >&2
        exit 1
    fi
    if [ "$(id -u)" -eq 0 ]; then sudo=""
    elif has sudo && sudo -n true 2>/dev/null; then sudo="sudo -n"
    else
        echo "make deps: missing Debian packages ${missing[*]}; run: sudo apt-get update && sudo $command" >&2
        exit 1
    fi
    echo "make deps: installing Debian packages: ${sudo:+$sudo }$command"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo $command -qq
fi

# --- 2. Python packages in the venv --------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python3" ]; then
    echo "make deps: creating the project venv $VENV ($SYSTEM_PYTHON -m venv)"
    "$SYSTEM_PYTHON" -m venv "$VENV"
fi
packages=$("$VENV/bin/python3" Tests/dependencies.py --missing --llama-version "$LLAMA_VERSION")
if [ -n "$packages" ]; then
    echo "make deps: installing into $VENV: $(echo $packages)"
    pip=("$VENV/bin/python3" -m pip install -q --disable-pip-version-check)
    "${pip[@]}" -r Tools/requirements.txt
    # The server llama-cpp-python runs is the external-brain tests' reference; its own llama.cpp build is switched
    # off (10-20 s instead of minutes): it loads the one `make llama` builds (LLAMA_CPP_LIB_PATH in the tests).
    CMAKE_ARGS="-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF" "${pip[@]}" "llama-cpp-python[server]==$LLAMA_VERSION"
    still=$("$VENV/bin/python3" Tests/dependencies.py --missing --llama-version "$LLAMA_VERSION")
    if [ -n "$still" ]; then
        echo "make deps: pip finished but these are still not importable from $VENV: $(echo $still)" >&2
        exit 1
    fi
fi
