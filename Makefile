# Hive — build, test, benchmark and demo entry points. Each target builds what it needs.
SWIFT      ?= swift
PYTHON     ?= python3
RELEASE    := .build/release
DEBUG      := .build/debug

.PHONY: build debug test test-swift test-tsan test-compat bench demo clean

## Release binaries: .build/release/{honeycombd,drone,hive}
build:
	$(SWIFT) build -c release

debug:
	$(SWIFT) build --build-tests

## Unit + socket tests (Swift), the same under ThreadSanitizer, then the compatibility suite with a NATS client
## nobody here wrote (nats-py) and the honeycombd CLI tests.
test: test-swift test-tsan test-compat

test-swift: debug
	$(SWIFT) test --skip-build --parallel

## The broker is multi-threaded; TSan checks the threading rules in Docs/ARCHITECTURE.md on every run.
test-tsan:
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build/tsan
	TSAN_OPTIONS=halt_on_error=1 $(SWIFT) test --skip-build --sanitize=thread --scratch-path .build/tsan

test-compat: debug
	HONEYCOMBD=$(DEBUG)/honeycombd $(PYTHON) -m pytest -q Tests/compat
	HONEYCOMBD=$(DEBUG)/honeycombd HIVE=$(DEBUG)/hive DRONE=$(DEBUG)/drone $(PYTHON) -m pytest -q Tests/cli

## Broker benchmark: honeycombd vs nats-server, same client, medians of several runs (see Docs/BENCHMARKS.md).
bench: build
	$(PYTHON) Tests/bench/broker_bench.py --hive $(RELEASE)/hive --honeycombd $(RELEASE)/honeycombd
	$(PYTHON) Tests/bench/control_bench.py --bin $(RELEASE)

## Starts honeycombd, drives traffic through it, shows what happened, stops it.
demo: build
	$(PYTHON) Tests/demo/demo.py --bin $(RELEASE)

clean:
	rm -rf .build
