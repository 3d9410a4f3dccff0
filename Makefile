# Quick start: `make demo` and `make test` install what they need (apt, npm), build, then run.
SHELL := /bin/bash
.PHONY: setup build kube image demo test typecheck lint unit integration bench clean

setup:
	@bash scripts/setup.sh

build: setup

# The lab's real Kubernetes control plane (kube/): built from the pinned release once per pin, cached in
# /var/cache/palisade/kube (about 8 minutes cold on 2 cores, seconds warm). `make demo` does not need it.
kube: setup
	@bash kube/build.sh >/dev/null

# The container image the install manifests name (docs/image.md): dist/image/palisade-<version>.oci.tar, built
# reproducibly without a container daemon (about 1 minute cold; seconds when nothing changed). test/image.test.ts
# builds it itself.
image: setup
	@bash image/build.sh >/dev/null

# CONTROL_PLANE=kubernetes: the same demo on a real control plane (builds it first, ~8 min the first time).
demo: setup
	@if [[ "$${CONTROL_PLANE:-dir}" == kubernetes ]]; then bash kube/build.sh >/dev/null; fi
	@bash scripts/demo.sh

typecheck: setup
	npx tsc --noEmit -p .

lint: setup
	npx biome check src test bench scripts

unit: setup
	bash scripts/run-tests.sh unit

integration: setup kube
	bash scripts/run-tests.sh integration

test: setup kube
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
