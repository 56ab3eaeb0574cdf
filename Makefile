# Hive — build, test, benchmark and demo entry points. Each target builds what it needs.
SWIFT      ?= swift
PYTHON     ?= python3
RELEASE    := .build/release
DEBUG      := .build/debug

.PHONY: build debug test test-swift test-compat bench demo clean

## Release binaries: .build/release/{honeycombd,drone,hive}
build:
	$(SWIFT) build -c release

debug:
	$(SWIFT) build --build-tests

## Unit + socket tests (Swift), then the compatibility suite with a NATS client nobody here wrote (nats-py).
test: test-swift test-compat

test-swift: debug
	$(SWIFT) test --skip-build --parallel

test-compat: debug
	HONEYCOMBD=$(DEBUG)/honeycombd $(PYTHON) -m pytest -q Tests/compat Tests/cli

## Broker benchmark: honeycombd vs nats-server, same client, medians of several runs (see Docs/BENCHMARKS.md).
bench: build
	$(PYTHON) Tests/bench/broker_bench.py --hive $(RELEASE)/hive --honeycombd $(RELEASE)/honeycombd

## Starts honeycombd, drives traffic through it, shows what happened, stops it.
demo: build
	$(PYTHON) Tests/demo/demo.py --bin $(RELEASE)

clean:
	rm -rf .build
