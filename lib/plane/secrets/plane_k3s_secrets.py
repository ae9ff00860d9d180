"""Creates the stack's missing Secrets in the cluster; never changes one that exists.

Run by the secrets bootstrap Job (python3, standard library only) with its ServiceAccount, which may
create Secrets and read only the ones named here. For each Secret of the spec (PLANE_K3S_SPEC_FILE,
JSON from the Job's ConfigMap): absent, it is created with fresh random values (and the plain values
the spec gives); present, it is kept as it is, and only checked to hold every key the stack reads. A
Secret made by someone else in between (409 Conflict) counts as present. Values are never printed and
never put in an annotation (the Secret is POSTed, not applied).

Exit status 0 when every Secret exists with its keys; 1 with one line per problem otherwise.
"""
import json
import os
import secrets
import sys
import uuid

from plane_k3s_kube import Api


def generate(kind):
    if kind in ("hex16", "hex24", "hex32"):
        return secrets.token_hex(int(kind[3:]))
    if kind == "garage-key-id":
        return "GK" + secrets.token_hex(12)
    if kind == "plane-api-token":
        # Plane's own format (plane.db.models.api.generate_token): "plane_api_" + uuid4 hex.
        return "plane_api_" + uuid.uuid4().hex
    raise ValueError(f"unknown secret format {kind}")


def ensure(api, namespace, spec):
    """Returns a line saying what happened to one Secret, or raises RuntimeError with the problem."""
    name = spec["name"]
    path = f"/api/v1/namespaces/{namespace}/secrets/{name}"
    status, found = api.call("GET", path)
    if status == 404:
        values = {key: (source["value"] if "value" in source else generate(source["generate"])) for key, source in spec["keys"].items()}
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace, "labels": spec.get("labels", {})},
            "stringData": values,
        }
        status, created = api.call("POST", f"/api/v1/namespaces/{namespace}/secrets", body)
        if status == 201:
            return f"{name}: created (keys {', '.join(sorted(values))})"
        if status != 409:
            raise RuntimeError(f"{name}: cannot create it ({status} {created.get('message', '')})")
        status, found = api.call("GET", path)
    if status != 200:
        raise RuntimeError(f"{name}: cannot read it ({status} {found.get('message', '')})")
    missing = sorted(set(spec["keys"]) - set((found.get("data") or {}).keys()))
    if missing:
        raise RuntimeError(f"{name}: exists without the keys {', '.join(missing)}; it is never changed here: add them (kubectl -n {namespace} edit secret {name}) or delete it to have it made again")
    return f"{name}: exists, kept"


def main():
    with open(os.environ["PLANE_K3S_SPEC_FILE"], encoding="utf-8") as spec_file:
        spec = json.load(spec_file)
    api = Api()
    problems = []
    for secret in spec["secrets"]:
        try:
            print(f"secret {ensure(api, spec['namespace'], secret)}", flush=True)
        except (RuntimeError, OSError) as error:
            problems.append(str(error))
            print(f"secret {error}", file=sys.stderr, flush=True)
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
