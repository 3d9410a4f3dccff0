#!/usr/bin/env bash
# Installs everything `make demo` and `make test` need on a fresh Debian 12 machine, then builds.
# Idempotent and quiet when all is present. Needs root for apt.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package that provides it
declare -A need=(
  [nft]=nftables [ip]=iproute2 [ping]=iputils-ping [nc]=netcat-openbsd [nsenter]=util-linux
  [conntrack]=conntrack [socat]=socat [busybox]=busybox-static [curl]=curl
  [iperf3]=iperf3 [iptables-nft-restore]=iptables [gcc]=gcc
  [podman]=podman [runc]=runc [containerd]=containerd [ctr]=containerd
  [openssl]=openssl
  [wg]=wireguard-tools [wireguard-go]=wireguard-go [tcpdump]=tcpdump
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] || missing+=(containernetworking-plugins)
# IPsec (issue 12): strongSwan's charon with its kernel-libipsec and openssl plugins, and swanctl. Not commands
# on the PATH (but swanctl), so checked by file.
if ! [[ -x /usr/lib/ipsec/charon && -f /usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so &&
  -f /usr/lib/ipsec/plugins/libstrongswan-openssl.so ]] || ! command -v swanctl >/dev/null 2>&1; then
  missing+=(strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins)
fi
# The build compiles the native CNI shim: gcc needs the C library's headers (a Recommends of gcc, so not
# pulled in by --no-install-recommends).
[[ -f /usr/include/stdio.h ]] || missing+=(libc6-dev)
# The agent's native addon links libnftables (src/dataplane/native/palisade-native.c).
[[ -f /usr/include/nftables/libnftables.h ]] || missing+=(libnftables-dev)
if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: installing npm packages"
  # Not `npm ci`: the registry these machines reach lacks some optional platform packages (e.g. biome's
  # non-Linux binaries), which npm ci counts as a lock mismatch. npm install follows the lock all the same.
  npm install --no-audit --no-fund --loglevel=error
fi

node scripts/build.mjs
