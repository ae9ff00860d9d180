#!/usr/bin/env bash
# The edge tests with a real Caddy and a real CoreDNS (test/edge/): builds Caddy at the image's version
# and a small CoreDNS (cached, see tools/caddy/install.sh and tools/coredns/install.sh), compiles, then
# runs the tests in a private network namespace, where they add their test-only client addresses to lo
# without touching the host's network.
set -euo pipefail
cd "$(dirname "$0")/.."

CADDY_BIN="$(tools/caddy/install.sh)"
COREDNS_BIN="$(tools/coredns/install.sh)"
export CADDY_BIN COREDNS_BIN
node scripts/build.mjs --with-tests

# One file at a time: they add and remove addresses on the same lo.
tests=(node --test --test-concurrency=1 build/test/edge/)
if [[ "$(id -u)" == 0 ]] && unshare --net true 2>/dev/null; then
  exec unshare --net -- bash -c 'ip link set lo up && exec "$@"' bash "${tests[@]}"
fi
echo "test-edge: not root or no network namespaces: the tests that need their own client addresses are skipped" >&2
exec "${tests[@]}"
