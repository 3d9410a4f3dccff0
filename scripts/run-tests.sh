#!/usr/bin/env bash
# Runs the node:test suites through tsx. Node 20's --test does not expand globs, so files are listed with find.
#   unit         src/**/*.test.ts        pure, no root needed, run concurrently
#   integration  test/**/*.test.ts       root + real network namespaces, one file at a time
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-all}
unset NODE_EXTRA_CA_CERTS   # adds ~45 ms to every Node start on these machines; tests start many
status=0
if [[ $kind == unit || $kind == all ]]; then
  mapfile -t files < <(find src -name '*.test.ts' | sort)
  node --import tsx --test --test-concurrency=2 "${files[@]}" || status=1
fi
if [[ $kind == integration || $kind == all ]]; then
  if [[ $(id -u) != 0 ]]; then
    echo "integration tests need root (network namespaces)" >&2
    exit 1
  fi
  mapfile -t files < <(find test -name '*.test.ts' | sort)
  if ((${#files[@]})); then
    node --import tsx --test --test-concurrency=1 "${files[@]}" || status=1
  fi
fi
exit $status
