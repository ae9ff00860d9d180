#!/usr/bin/env bash
# Stop the cluster started by up.sh (same STATE_DIR).
#
#   tools/cluster/down.sh           # stop; keep $STATE_DIR (logs) for diagnosis
#   tools/cluster/down.sh --purge   # stop and delete $STATE_DIR
#
# Only processes recorded in $STATE_DIR/pids are signalled, and only if their
# command line still mentions $STATE_DIR (a recycled pid is left alone).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0
[[ "${1:-}" == "--purge" ]] && purge=1

# Reverse start order: clients first, etcd last, so nothing logs storage errors.
for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
  pidfile="$STATE_DIR/pids/$name.pid"
  [[ -f "$pidfile" ]] || continue
  pid="$(cat "$pidfile")"
  if ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    # Up to 10 s for a clean shutdown (etcd flushes, apiserver drains), then KILL.
    for _ in $(seq 1 50); do ours "$pid" || break; sleep 0.2; done
    if ours "$pid"; then
      log "$name ($pid) did not stop on TERM; killing"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $name ($pid)"
  fi
  rm -f "$pidfile"
done

if [[ $purge == 1 && -f "$STATE_DIR/.plane-test-cluster" ]]; then
  rm -rf "$STATE_DIR"
  log "removed $STATE_DIR"
fi
