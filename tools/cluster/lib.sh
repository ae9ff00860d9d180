# shellcheck shell=bash
# Shared settings for build.sh, up.sh and down.sh. Sourced, never executed.
#
# Everything that can be overridden is an environment variable with a default,
# so CI and developers can move ports or directories without editing scripts.

CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Build cache: outside the repository so binaries are never committed and
# survive `git clean`. One directory per version key (see version_key below).
PLANE_K3S_CACHE="${PLANE_K3S_CACHE:-$HOME/.cache/plane-k3s}"
CLUSTER_CACHE="$PLANE_K3S_CACHE/cluster"

# Runtime state (certs, etcd data, logs, kubeconfig, pids) for one cluster.
STATE_DIR="${STATE_DIR:-${TMPDIR:-/tmp}/plane-k3s-cluster}"

# Loopback only; ports chosen away from k3s/kubeadm defaults so a real cluster
# on the same machine does not clash.
ETCD_CLIENT_PORT="${ETCD_CLIENT_PORT:-12379}"
ETCD_PEER_PORT="${ETCD_PEER_PORT:-12380}"
APISERVER_PORT="${APISERVER_PORT:-16443}"
KCM_PORT="${KCM_PORT:-16257}"
SCHEDULER_PORT="${SCHEDULER_PORT:-16259}"
# kwok's kubelet-like server: logs, exec and port-forward of the fake node's pods.
KWOK_SERVER_PORT="${KWOK_SERVER_PORT:-16250}"

# k3s defaults, so manifests see the same ranges as on the VPS.
SERVICE_CIDR="${SERVICE_CIDR:-10.43.0.0/16}"
SERVICE_APISERVER_IP="${SERVICE_APISERVER_IP:-10.43.0.1}"
CLUSTER_CIDR="${CLUSTER_CIDR:-10.42.0.0/16}"

NODE_NAME="${NODE_NAME:-sese}"
# PersistentVolumes pre-created for each of these StorageClasses (PV_COUNT each).
PV_CLASSES="${PV_CLASSES:-local-path plane-retain}"
PV_COUNT="${PV_COUNT:-10}"
PV_SIZE="${PV_SIZE:-50Gi}"

# mod_version MODFILE MODULE -> version required for MODULE in MODFILE.
mod_version() {
  awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit }
                 $1 == "require" && $2 == m { print $3; exit }' "$1"
}

# The version key names the binary directory. It changes whenever a module
# file, the Go toolchain or the build flags change, so a stale binary is never
# reused; it is stable otherwise, so a warm cache is reused without rebuilding.
BUILD_LDFLAGS_BASE="-s -w"
version_key() {
  local k8s etcd kwok gov sum
  k8s="$(mod_version "$CLUSTER_DIR/go.mod" k8s.io/kubernetes)"
  etcd="$(mod_version "$CLUSTER_DIR/go.mod" go.etcd.io/etcd/server/v3)"
  kwok="$(mod_version "$CLUSTER_DIR/kwok/go.mod" sigs.k8s.io/kwok)"
  gov="$(go env GOVERSION)"
  sum="$(cat "$CLUSTER_DIR/go.mod" "$CLUSTER_DIR/go.sum" \
             "$CLUSTER_DIR/kwok/go.mod" "$CLUSTER_DIR/kwok/go.sum" \
         | { cat; echo "$BUILD_LDFLAGS_BASE"; } | sha256sum | cut -c1-12)"
  echo "k8s-${k8s}_etcd-${etcd}_kwok-${kwok}_${gov}_${sum}"
}

# shellcheck disable=SC2034  # used by build.sh
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)

bin_dir() { echo "$CLUSTER_CACHE/$(version_key)/bin"; }

log() { printf '[cluster] %s\n' "$*" >&2; }

# ours PID: true if PID is alive and is a component of this STATE_DIR (every
# component has a STATE_DIR path in its arguments), so a recycled pid or
# another cluster's process is never taken for ours.
ours() {
  local cmd
  [[ -n "$1" && -r "/proc/$1/cmdline" ]] || return 1
  cmd="$(tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null)" || return 1
  [[ "$cmd" == *"$STATE_DIR"* ]]
}

# running: true if any component recorded in STATE_DIR is still alive.
running() {
  local f
  for f in "$STATE_DIR"/pids/*.pid; do
    [[ -f "$f" ]] && ours "$(cat "$f")" && return 0
  done
  return 1
}
