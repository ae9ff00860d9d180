#!/usr/bin/env bash
# Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
# and kwok
# from Go modules, once, into a cache directory outside the repository.
#
#   tools/cluster/build.sh            # build if needed, print the bin directory
#   tools/cluster/build.sh --print    # print the bin directory, build nothing
#
# A warm cache (all binaries present + stamp for the current version key)
# returns immediately. Versions are pinned by go.mod/go.sum in this directory
# (k8s + etcd) and kwok/go.mod (kwok, kept apart so its newer dependencies do
# not change what the control plane is built with).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v go >/dev/null || { log "go is required (see README.md)"; exit 1; }

BIN="$(bin_dir)"
if [[ "${1:-}" == "--print" ]]; then echo "$BIN"; exit 0; fi
STAMP="$BIN/.complete"

warm=1
for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || warm=0; done
[[ -f "$STAMP" ]] || warm=0
if [[ $warm == 1 ]]; then
  log "cache hit: $BIN"
  echo "$BIN"
  exit 0
fi

# Module downloads and compiled packages live in the same cache directory, so
# one directory is all CI has to keep, and deleting it gives a true cold build.
export GOMODCACHE="$CLUSTER_CACHE/gomod"
export GOCACHE="$CLUSTER_CACHE/go-build"
# Static binaries (k8s builds its server binaries the same way); cgo would also
# need a C toolchain and compile slower.
export CGO_ENABLED=0
# -mod=readonly: go.sum is the source of truth, a build never edits it.
# -trimpath: no local paths in binaries (and cache entries are path-independent).
export GOFLAGS="-mod=readonly -trimpath -buildvcs=false"
# Never fetch another toolchain: go.mod says go 1.26.0, the installed one must do.
export GOTOOLCHAIN=local
# Parallel package compiles; defaults to the core count (2 on CI).
PARALLEL="${GO_BUILD_P:-$(nproc)}"

k8s_version="$(mod_version "$CLUSTER_DIR/go.mod" k8s.io/kubernetes)"
k8s_minor="$(echo "$k8s_version" | cut -d. -f2)"
# Without these the binaries report v0.0.0-master; clients (kubectl version,
# client libraries that check the server version) should see the real release.
ver_pkgs=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
ldflags="$BUILD_LDFLAGS_BASE"
for p in "${ver_pkgs[@]}"; do
  ldflags+=" -X $p.gitVersion=$k8s_version -X $p.gitMajor=1 -X $p.gitMinor=$k8s_minor -X $p.gitTreeState=clean"
done

tmp="$CLUSTER_CACHE/tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

start=$(date +%s)
log "cold build into $BIN (go $(go env GOVERSION), -p $PARALLEL)"

# kubectl is built too: the same release as the server, so tests are not at
# the mercy of whatever kubectl the machine has (version skew).
# One `go build` for all control-plane binaries: they share most packages
# (apimachinery, client-go, apiserver, etcd client), and a single invocation
# compiles each shared package once and keeps both cores busy until the end.
log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl ($k8s_version), etcd"
(cd "$CLUSTER_DIR" && go build -p "$PARALLEL" -ldflags "$ldflags" -o "$tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl \
  go.etcd.io/etcd/server/v3)
# go names the binary of go.etcd.io/etcd/server/v3 after "server".
mv "$tmp/server" "$tmp/etcd"
t1=$(date +%s)
log "control plane built in $((t1 - start))s"

log "building kwok"
(cd "$CLUSTER_DIR/kwok" && go build -p "$PARALLEL" -ldflags "$BUILD_LDFLAGS_BASE" -o "$tmp/" sigs.k8s.io/kwok/cmd/kwok)
t2=$(date +%s)
log "kwok built in $((t2 - t1))s"

mkdir -p "$BIN"
for b in "${BINARIES[@]}"; do mv -f "$tmp/$b" "$BIN/$b"; done
# The stamp is written last: an interrupted build is never taken for a warm one.
date -u +%FT%TZ > "$STAMP"
log "cold build took $((t2 - start))s total; binaries in $BIN"
echo "$BIN"
