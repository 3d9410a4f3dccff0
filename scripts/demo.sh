#!/usr/bin/env bash
# The demo: a 2-node lab (an agent per node) with 6 pods in 2 namespaces, the reachability matrix, then the
# matrix after each example NetworkPolicy, then teardown (KEEP=1 leaves the lab running).
# CONTROL_PLANE=kubernetes runs it on a real Kubernetes control plane (`make demo CONTROL_PLANE=kubernetes`;
# the first time builds the pinned release, ~8 min).
set -euo pipefail
cd "$(dirname "$0")/.."
export PALISADE_LAB_DIR=${PALISADE_LAB_DIR:-/tmp/palisade-demo}
P=bin/palisade

if [[ -f $PALISADE_LAB_DIR/lab.json ]]; then
  echo "== removing the previous demo lab in $PALISADE_LAB_DIR"
  $P lab down
fi
if [[ ${KEEP:-0} != 1 ]]; then trap '$P lab down' EXIT; fi

step() { echo; echo "== $*"; }

CP=${CONTROL_PLANE:-dir}
step "palisade lab up --nodes 2 --control-plane $CP -f examples/demo.yaml"
$P lab up --nodes 2 --control-plane "$CP" -f examples/demo.yaml
if [[ $CP == kubernetes ]]; then
  step "the same pods as the API server has them (palisade lab kubectl get pods -A -o wide)"
  $P lab kubectl get pods -A -o wide
fi
step "TCP port 80, every pod to every pod (real connections), no policies"
$P lab probe --port 80
step "UDP port 53"
$P lab probe --port 53 --protocol udp

step "apply examples/policies/default-deny-shop.yaml: nothing may enter shop"
$P lab apply -f examples/policies/default-deny-shop.yaml
$P lab probe --port 80
step "apply examples/policies/allow-web-from-billing.yaml: shop/web accepts TCP http from namespaces team=billing"
$P lab apply -f examples/policies/allow-web-from-billing.yaml
$P lab probe --port 80
step "apply examples/policies/billing-egress-dns-only.yaml: billing pods may only send UDP 53"
$P lab apply -f examples/policies/billing-egress-dns-only.yaml
echo "-- TCP 80:"
$P lab probe --port 80
echo "-- UDP 53:"
$P lab probe --port 53 --protocol udp

echo
if [[ ${KEEP:-0} == 1 ]]; then
  echo "KEEP=1: the lab stays up in $PALISADE_LAB_DIR; remove it with: PALISADE_LAB_DIR=$PALISADE_LAB_DIR $P lab down"
else
  echo "== palisade lab down"
fi
