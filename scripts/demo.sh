#!/usr/bin/env bash
# The demo: a 2-node lab with 6 pods in 2 namespaces, its status and reachability matrix, then teardown
# (KEEP=1 leaves it running; `bin/palisade lab down` removes it later).
set -euo pipefail
cd "$(dirname "$0")/.."
export PALISADE_LAB_DIR=${PALISADE_LAB_DIR:-/tmp/palisade-demo}
P=bin/palisade

if [[ -f $PALISADE_LAB_DIR/lab.json ]]; then
  echo "== removing the previous demo lab in $PALISADE_LAB_DIR"
  $P lab down
fi
if [[ ${KEEP:-0} != 1 ]]; then trap '$P lab down' EXIT; fi

echo "== palisade lab up --nodes 2 -f examples/demo.yaml"
$P lab up --nodes 2 -f examples/demo.yaml
echo
echo "== TCP port 80, every pod to every pod (real connections)"
$P lab probe --port 80 --protocol tcp
echo
echo "== UDP port 53"
$P lab probe --port 53 --protocol udp
echo
if [[ ${KEEP:-0} == 1 ]]; then
  echo "KEEP=1: the lab stays up in $PALISADE_LAB_DIR; remove it with: PALISADE_LAB_DIR=$PALISADE_LAB_DIR $P lab down"
else
  echo "== palisade lab down"
fi
