#!/usr/bin/env bash
# Builds the lab's Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kube-proxy, kubectl) from the release pinned in kube/go.mod, once per pin: the binaries are cached
# outside the checkout under $PALISADE_KUBE_CACHE (default /var/cache/palisade/kube), keyed by a hash of
# go.mod, go.sum and our own sources, so a checkout that did not move the pin reuses them.
# Prints the directory of the binaries on stdout, progress on stderr.
set -euo pipefail
cd "$(dirname "$0")"
command -v go >/dev/null || { echo "kube: no Go toolchain (go.mod asks for $(sed -n 's/^go //p' go.mod)); this machine kind ships one" >&2; exit 1; }
cache=${PALISADE_KUBE_CACHE:-/var/cache/palisade/kube}
version=$(go mod edit -json | node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const m=JSON.parse(s);process.stdout.write((m.Require??[]).find(r=>r.Path==="k8s.io/kubernetes").Version)})')
key=$(cat build.sh go.mod go.sum $(find cmd -name '*.go' | sort) | sha256sum | cut -c1-12)
out="$cache/$version-$key"
programs=(etcd kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl)

complete() { for p in "${programs[@]}"; do [[ -x $out/bin/$p ]] || return 1; done; }
if complete; then echo "$out/bin"; exit 0; fi

echo "kube: building Kubernetes $version (etcd, apiserver, controller-manager, scheduler, kube-proxy, kubectl) into $out; a cold build takes about 8 minutes on 2 cores" >&2
mkdir -p "$out"
tmp=$(mktemp -d "$out/.build.XXXX")
trap 'rm -rf "$tmp"' EXIT
total=$(go list -deps tool ./cmd/... | wc -l)
started=$SECONDS
# The release's version, as its own build stamps it (kubectl version, /version, the components' logs).
[[ $version =~ ^v([0-9]+)\.([0-9]+)\. ]]
stamp=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamp+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=${BASH_REMATCH[1]} -X $pkg.gitMinor=${BASH_REMATCH[2]}"
  stamp+=" -X $pkg.gitTreeState=clean"
done
# -v names each package as it is compiled (a cached package is not named): count them for progress.
if ! CGO_ENABLED=0 go build -v -trimpath -ldflags="-s -w$stamp" -o "$tmp/" tool ./cmd/... 2>&1 |
  awk -v total="$total" -v start="$(date +%s)" '
    /^#|\.go:[0-9]+|^go: / { print > "/dev/stderr"; next }
    { n++; if (n % 100 == 0) { printf "kube: compiled %d of up to %d packages (%ds)\n", n, total, systime() - start > "/dev/stderr" } }'
then
  echo "kube: build failed" >&2
  exit 1
fi
mkdir -p "$out/bin"
for p in "${programs[@]}"; do mv "$tmp/$p" "$out/bin/$p"; done
# Earlier builds of this release (other keys) are superseded.
for old in "$cache/$version"-*; do [[ $old == "$out" ]] || rm -rf "$old"; done
echo "kube: built in $((SECONDS - started)) s: $(du -sh "$out/bin" | cut -f1) in $out/bin" >&2
echo "$out/bin"
