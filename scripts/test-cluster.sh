#!/usr/bin/env bash
# The cluster suite (test/cluster/): installs kubeconform, netpol-analyzer, Polaris and the control plane (cached,
# see tools/), compiles, runs the tests one file at a time (one cluster on fixed ports). The tests stop
# the cluster they start; the trap stops it too if the test process itself dies.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/go-tools/install.sh >/dev/null
tools/cluster/build.sh >/dev/null
# The operator's CLI suite runs a real PostgreSQL and a real Caddy behind kwok's port-forwards.
tools/postgres/install.sh >/dev/null
tools/caddy/install.sh >/dev/null
node scripts/build.mjs --with-tests
trap 'tools/cluster/down.sh >/dev/null 2>&1 || true' EXIT
node --test --test-concurrency=1 build/test/cluster/
