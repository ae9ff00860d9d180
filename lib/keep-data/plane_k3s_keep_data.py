"""Applies the stack's deletion guard (a ValidatingAdmissionPolicy and its binding) to the cluster.

Run by the keep-data Job (python3, standard library only) with its ServiceAccount, which may apply
only these two objects. The guard is not in dist/: `kubectl delete -f dist` would delete it first
(admission configuration objects are exempt from admission policies, so a policy cannot protect
itself). The objects (PLANE_K3S_SPEC_FILE, JSON from the Job's ConfigMap) are server-side applied
in order (the policy, then its binding), with the field manager below and force: a re-run puts back
whatever was changed by hand.

Exit status 0 when each object is applied; 1 with one line per problem otherwise.
"""
import json
import os
import sys

from plane_k3s_kube import Api

FIELD_MANAGER = "plane-k3s-keep-data"
RESOURCES = {
    "ValidatingAdmissionPolicy": "validatingadmissionpolicies",
    "ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings",
}


def apply(api, body):
    """Returns a line saying what was applied, or raises RuntimeError with the problem."""
    kind, name = body["kind"], body["metadata"]["name"]
    group, version = body["apiVersion"].split("/")
    if group != "admissionregistration.k8s.io" or kind not in RESOURCES:
        raise RuntimeError(f"{kind} {name}: not an admission policy object; nothing else is applied here")
    status, applied = api.apply(f"/apis/{group}/{version}/{RESOURCES[kind]}/{name}", body, FIELD_MANAGER)
    if status not in (200, 201):
        raise RuntimeError(f"{kind.lower()} {name}: cannot apply it ({status} {applied.get('message', '')})")
    return f"{kind.lower()} {name}: {'created' if status == 201 else 'applied'}"


def main():
    with open(os.environ["PLANE_K3S_SPEC_FILE"], encoding="utf-8") as spec_file:
        objects = json.load(spec_file)["objects"]
    api = Api()
    for body in objects:
        try:
            print(apply(api, body), flush=True)
        except (RuntimeError, OSError) as error:
            # The binding without its policy (or the reverse) guards nothing: stop at the first problem.
            print(str(error), file=sys.stderr, flush=True)
            sys.exit(1)


if __name__ == "__main__":
    main()
