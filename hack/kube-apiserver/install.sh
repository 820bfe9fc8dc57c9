#!/usr/bin/env bash
# Installs a real upstream kube-apiserver (and kube-controller-manager) v1.20.2 for the
# integration tests, plus the Debian packages start.sh needs (etcd, openssl, curl, kubectl).
#
# Nothing ships a kube-apiserver binary through the registries this project can reach, so
# the binaries are built once from Debian bookworm's `kubernetes` source package with
# Debian's Go, offline, and cached in $KUBE_CACHE_DIR/bin (default
# $HOME/.cache/swr-sync-operator/kube-1.20.2). When the cache is there this script only
# checks it and the packages, and exits in well under a second.
#
# The cold build takes about 5 minutes on 2 cores, ~1.5 GiB of memory and ~1.5 GiB of
# temporary disk (removed afterwards). Must run as root (or with passwordless apt) when
# packages are missing.
set -euo pipefail

KUBE_VERSION=1.20.2
DEB_SOURCE_VERSION=1.20.5+really1.20.2-1.1+deb12u1
KUBE_CACHE_DIR="${KUBE_CACHE_DIR:-$HOME/.cache/swr-sync-operator/kube-$KUBE_VERSION}"
BIN_DIR="$KUBE_CACHE_DIR/bin"
BINARIES=(kube-apiserver kube-controller-manager)

log() { echo "[kube-install] $*" >&2; }
die() { log "error: $*"; exit 1; }

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 && SUDO=(sudo -n)
fi

apt_updated=0
apt_update() {
  if [[ $apt_updated -eq 0 ]]; then
    log "apt-get update"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    apt_updated=1
  fi
}

apt_install() {
  apt_update
  log "apt-get install $*"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@" >&2
}

# The runtime tools start.sh and the tests use. kubectl comes from Debian's
# kubernetes-client when no kubectl is on PATH (a newer one already there is kept).
ensure_runtime_packages() {
  local missing=()
  command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v curl >/dev/null 2>&1 || missing+=(curl ca-certificates)
  command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
  if [[ ${#missing[@]} -gt 0 ]]; then
    apt_install "${missing[@]}"
  fi
}

cache_ok() {
  local b
  for b in "${BINARIES[@]}"; do
    [[ -x "$BIN_DIR/$b" ]] || return 1
  done
  "$BIN_DIR/kube-apiserver" --version >/dev/null 2>&1
}

# Adds a deb-src entry for bookworm main on the mirror the existing sources use,
# in a file of its own (the existing entries are left as they are).
ensure_deb_src() {
  local src_file=/etc/apt/sources.list.d/swr-sync-operator-deb-src.sources
  if [[ -f $src_file ]]; then
    return
  fi
  if grep -rqsE '^[[:space:]]*deb-src[[:space:]].*[[:space:]]bookworm[[:space:]].*main' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null; then
    return
  fi
  local uri keyring
  # deb822 files: the URIs of a stanza whose Suites include plain "bookworm".
  uri=$(awk '
    BEGIN { RS=""; FS="\n" }
    {
      u=""; s=""
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^URIs:/) { u=$i; sub(/^URIs:[ \t]*/, "", u); split(u, a, /[ \t]+/); u=a[1] }
        if ($i ~ /^Suites:/) { s=" " $i " " }
      }
      if (u != "" && s ~ /[ \t]bookworm[ \t]/) { print u; exit }
    }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [[ -z $uri ]]; then
    # one-line format: "deb [opts] URI bookworm main ..."
    uri=$(grep -hsE '^[[:space:]]*deb[[:space:]].*[[:space:]]bookworm[[:space:]]' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | sed -E 's/\[[^]]*\]//' | awk '{print $2; exit}' || true)
  fi
  uri="${uri:-http://deb.debian.org/debian}"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  log "adding deb-src for bookworm main from $uri ($src_file)"
  {
    echo "# Added by swr-sync-operator hack/kube-apiserver/install.sh: source of kube-apiserver"
    echo "Types: deb-src"
    echo "URIs: $uri"
    echo "Suites: bookworm"
    echo "Components: main"
    [[ -f $keyring ]] && echo "Signed-By: $keyring"
  } | "${SUDO[@]}" tee "$src_file.tmp" >/dev/null
  "${SUDO[@]}" mv "$src_file.tmp" "$src_file"
  apt_updated=0
}

build() {
  local started=$SECONDS
  ensure_deb_src
  apt_install make golang-go rsync etcd-server openssl curl ca-certificates \
    golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev

  mkdir -p "$KUBE_CACHE_DIR"
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/kube-build.XXXXXX")
  # shellcheck disable=SC2064
  trap "chmod -R u+w '$work' 2>/dev/null; rm -rf '$work'" EXIT
  trap 'exit 130' INT TERM

  log "downloading source package kubernetes=$DEB_SOURCE_VERSION into $work"
  # (as root, apt's _apt sandbox user cannot write into our private temp dir: skip the sandbox)
  (cd "$work" && apt-get source --download-only -qq -o APT::Sandbox::User=root \
    "kubernetes=$DEB_SOURCE_VERSION" >&2)
  local origs=("$work"/kubernetes_*.orig.tar.*)
  local orig="${origs[0]}"
  [[ -f $orig ]] || die "no orig tarball downloaded in $work"
  log "unpacking $(basename "$orig")"
  mkdir -p "$work/src"
  tar -xf "$orig" -C "$work/src" --strip-components=1
  local tree="$work/src"
  [[ -f $tree/Makefile && -d $tree/vendor ]] || die "unexpected source layout in $orig"

  # The vendored reflect2 1.0.1 / json-iterator 1.1.10 crash under Go >= 1.18 (SIGSEGV in
  # UnsafeMapType.UnsafeIterate at the first custom-resource create): use Debian's newer copies.
  local pkg
  for pkg in github.com/modern-go/reflect2 github.com/json-iterator/go; do
    [[ -d /usr/share/gocode/src/$pkg ]] || die "/usr/share/gocode/src/$pkg missing"
    log "replacing vendor/$pkg with Debian's copy"
    rm -rf "${tree:?}/vendor/$pkg"
    mkdir -p "$tree/vendor/$pkg"
    cp -a "/usr/share/gocode/src/$pkg/." "$tree/vendor/$pkg/"
    find "$tree/vendor/$pkg" -name '*_test.go' -delete
  done

  # No .git in the tarball: give the build the release's version data.
  cat >"$work/version.env" <<EOF
KUBE_GIT_COMMIT='faecb196815e248d3ecfb03c680a4507229c2a56'
KUBE_GIT_TREE_STATE='clean'
KUBE_GIT_VERSION='v$KUBE_VERSION'
KUBE_GIT_MAJOR='1'
KUBE_GIT_MINOR='20'
EOF

  local whats="${BINARIES[*]/#/cmd/}"
  log "building $whats with $(go version | awk '{print $3}') (about 5 minutes on 2 cores)"
  (
    cd "$tree"
    export GOPROXY=off GOFLAGS=-mod=vendor CGO_ENABLED=0 GO111MODULE=on
    export GOCACHE="$work/gocache" GOPATH="$work/gopath"
    export KUBE_GIT_VERSION_FILE="$work/version.env"
    make WHAT="$whats" >&2
  ) || die "build failed"

  local out="$tree/_output/bin"
  [[ -x $out/kube-apiserver ]] || out=$(dirname "$(find "$tree/_output" -type f -name kube-apiserver | head -n1)")
  local staging
  staging=$(mktemp -d "$KUBE_CACHE_DIR/.bin.XXXXXX")
  local b
  for b in "${BINARIES[@]}"; do
    [[ -x $out/$b ]] || die "build produced no $b"
    cp "$out/$b" "$staging/$b"
  done
  chmod 755 "$staging" "$staging"/*
  "$staging/kube-apiserver" --version >/dev/null || die "built kube-apiserver does not run"
  # Swap the whole bin directory in at once: an interrupted build never leaves a partial cache.
  if [[ -e $BIN_DIR ]]; then
    mv "$BIN_DIR" "$KUBE_CACHE_DIR/.bin.old.$$"
  fi
  mv "$staging" "$BIN_DIR"
  rm -rf "$KUBE_CACHE_DIR/.bin.old.$$"
  log "built in $((SECONDS - started))s"
}

main() {
  if cache_ok; then
    ensure_runtime_packages
    log "kube-apiserver $KUBE_VERSION is cached in $BIN_DIR"
    echo "$BIN_DIR"
    return
  fi
  mkdir -p "$KUBE_CACHE_DIR"
  # One build at a time; whoever waited finds the cache filled.
  exec 9>"$KUBE_CACHE_DIR/.install.lock"
  if ! flock -n 9; then
    log "another install is running; waiting for it"
    flock 9
  fi
  if ! cache_ok; then
    rm -rf "$KUBE_CACHE_DIR"/.bin.* 2>/dev/null || true
    build
  fi
  ensure_runtime_packages
  log "kube-apiserver $KUBE_VERSION is installed in $BIN_DIR"
  echo "$BIN_DIR"
}

main "$@"
