# Quick start: `make demo` and `make test` install what they need (apt, npm), build, then run.
SHELL := /bin/bash
.PHONY: setup build demo test typecheck lint unit integration bench clean

setup:
	@bash scripts/setup.sh

build: setup

demo: setup
	@bash scripts/demo.sh

typecheck: setup
	npx tsc --noEmit -p .

lint: setup
	npx biome check src test bench scripts

unit: setup
	bash scripts/run-tests.sh unit

integration: setup
	bash scripts/run-tests.sh integration

test: setup
	npx tsc --noEmit -p .
	npx biome check src test bench scripts
	bash scripts/run-tests.sh all

# Figures, not pass/fail: CNI ADD/DEL vs bridge+host-local, agent cold start/propagation/memory, per-packet
# cost vs a linear iptables chain (~8 min in all). Results: docs/benchmarks.md.
bench: setup
	env -u NODE_EXTRA_CA_CERTS node --import tsx bench/cni-add.ts
	env -u NODE_EXTRA_CA_CERTS node --import tsx bench/agent-sync.ts --scale both
	env -u NODE_EXTRA_CA_CERTS node --import tsx bench/per-packet.ts --seconds 3

clean:
	rm -rf dist
