#!/usr/bin/env bash
# Smoke test of a running cluster (tools/cluster/up.sh): proves the pieces the
# project's tests rely on are real, not mocked.
#
#   tools/cluster/verify.sh        # uses $STATE_DIR/kubeconfig
#
# Prints one line per check and "N passed, N failed" at the end; exits 1 if
# any check failed. Leaves the cluster as it found it (namespace deleted).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export KUBECONFIG="${KUBECONFIG:-$STATE_DIR/kubeconfig}"
# Default: the kubectl built with the server; KUBECTL=kubectl tests the host's.
KUBECTL="${KUBECTL:-$("$CLUSTER_DIR/build.sh" --print)/kubectl}"
kubectl() { command "$KUBECTL" "$@"; }  # `command`: KUBECTL=kubectl must not recurse
NS=cluster-verify
T="$CLUSTER_DIR/testdata"
k() { kubectl -n "$NS" "$@"; }

passed=0 failed=0
# check NAME CMD...: run CMD, record the result, show its output on failure.
check() {
  local name=$1 out; shift
  if out="$("$@" 2>&1)"; then
    passed=$((passed + 1)); echo "ok   $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"
    # shellcheck disable=SC2001  # indent every line of a multi-line output
    sed 's/^/     /' <<<"$out"
  fi
}

# expect_rejected FILE PATTERN: apply must fail with PATTERN in its output.
expect_rejected() {
  local out
  if out="$(kubectl apply -f "$1" 2>&1)"; then echo "$out"; echo "(was accepted)"; return 1; fi
  grep -F "$2" <<<"$out"
}
# expect_warning FILE PATTERN: apply must succeed and print PATTERN.
expect_warning() {
  local out
  out="$(kubectl apply -f "$1" 2>&1)" || { echo "$out"; return 1; }
  grep -F "$2" <<<"$out"
}
image_is() { [[ "$(k get deploy/web -o jsonpath='{.spec.template.spec.containers[0].image}')" == "$1" ]]; }

# The whole output first: `| grep -m1` exits at its match and, under pipefail, a writer still writing dies of SIGPIPE.
client_version="$(kubectl version --client -o json)" || { echo "kubectl version --client failed" >&2; exit 1; }
client_version="$(grep -m1 gitVersion <<<"$client_version" | tr -d ' ",')"
echo "kubectl: $KUBECTL ($client_version)"
check "apiserver /readyz"                 kubectl get --raw /readyz
check "node $NODE_NAME Ready"             kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=30s
check "apply restricted workloads"        kubectl apply -f "$T/restricted.yaml"
check "Deployment Available"              k wait --for=condition=Available deploy/web --timeout=90s
check "Job Complete"                      k wait --for=condition=Complete job/migrate --timeout=90s
check "PVC (local-path) Bound"            k wait --for=jsonpath='{.status.phase}'=Bound pvc/data-db-0 --timeout=90s
check "StatefulSet rolled out"            k rollout status sts/db --timeout=90s
check "non-compliant Pod rejected"        expect_rejected "$T/noncompliant-pod.yaml" 'violates PodSecurity "restricted:latest"'
check "warn label: warning at apply"      expect_warning "$T/noncompliant-deployment.yaml" 'would violate PodSecurity "restricted:latest"'
check "set image (revision 2)"            k set image deploy/web web=example.invalid/web:2
check "rollout to revision 2"             k rollout status deploy/web --timeout=90s
check "rollout undo"                      k rollout undo deploy/web
check "rollout back to revision 1 image"  k rollout status deploy/web --timeout=90s
check "image is web:1 again"              image_is example.invalid/web:1
check "namespace deletion completes"      kubectl delete namespace "$NS" --wait --timeout=120s

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
