"""Replaces the agents' API tokens before they expire (the token-rotation CronJob, through
`python manage.py shell`, with the backend's environment and a ServiceAccount that may read and patch
the agents' connection Secrets, nothing else).

For each agent whose token (its Secret's) expires within `rotateDaysBeforeExpiry` days: a new token is
written into Plane first (plane_k3s_provision.ensure_token: the old one keeps working `overlapHours`,
then stops), then into the agent's Secret, guarded by the Secret's resourceVersion. Should the Secret
not take it, the old token is still the Secret's and still works, and the next run of this or of the
provisioning drops the new one: a failure never leaves an agent with a token Plane does not know.

Input: the spec file PLANE_K3S_SPEC_FILE (JSON from the CronJob's ConfigMap: namespace, tokens,
agents with their Secret). No token is ever printed.
"""
import base64
import datetime
import json
import os
import secrets
import sys

import plane_k3s_kube
from plane_k3s_provision import TOKEN, Changes, ProvisioningError, TokenPolicy, agent_label, ensure_token, timezone_now

ROTATED_AT_ANNOTATION = "plane-k3s/token-rotated-at"


def new_token():
    # Plane's own format (models/api.py generate_token: plane_api_ + 32 hex).
    return "plane_api_" + secrets.token_hex(16)


def when(moment):
    return moment.isoformat(timespec="minutes")


def rotate(spec, kube, now=None):
    """Rotates the tokens that are due; returns the report's lines and whether every agent is fine."""
    from django.db import transaction

    from plane.db.models import APIToken

    now = now or timezone_now()
    tokens = spec["tokens"]
    policy = TokenPolicy.of(spec)
    if policy.lifetime is None:
        raise ProvisioningError("the site sets no token lifetime (users.tokens.lifetimeDays): no token expires, none is rotated")
    due_within = datetime.timedelta(days=tokens["rotateDaysBeforeExpiry"])
    lines, healthy = [], True
    for agent in spec["agents"]:
        path = f"/api/v1/namespaces/{spec['namespace']}/secrets/{agent['secret']}"
        status, secret = kube.call("GET", path)
        if status != 200:
            lines.append(f"{agent['id']}: cannot read Secret {agent['secret']} ({status} {secret.get('message', '')})")
            healthy = False
            continue
        value = base64.b64decode(secret.get("data", {}).get(agent["key"], "")).decode("ascii", "replace")
        current = APIToken.objects.filter(token=value, is_active=True, label=agent_label(agent["id"])).first() if TOKEN.fullmatch(value) else None
        if current is None:
            lines.append(f"{agent['id']}: its Secret's token is not in Plane: the provisioning Job writes it (kubectl -n {spec['namespace']} get jobs)")
            healthy = False
            continue
        if current.expired_at is None or current.expired_at - now > due_within:
            lines.append(f"{agent['id']}: not due (expires {when(current.expired_at) if current.expired_at else 'never'})")
            continue
        fresh = new_token()
        changes = Changes()
        with transaction.atomic():
            ensure_token(APIToken, current.user, agent_label(agent["id"]), fresh, changes, policy, expires=True, now=now)
        patch = {
            "metadata": {"resourceVersion": secret["metadata"]["resourceVersion"], "annotations": {ROTATED_AT_ANNOTATION: when(now)}},
            "data": {agent["key"]: base64.b64encode(fresh.encode()).decode()},
        }
        status, answer = kube.call("PATCH", path, patch, content_type="application/merge-patch+json")
        if status != 200:
            lines.append(
                f"{agent['id']}: Secret {agent['secret']} refused the new token ({status} {answer.get('message', '')}); "
                f"the old one keeps working until {when(current.expired_at)} and is rotated at the next run"
            )
            healthy = False
            continue
        cutoff = min(current.expired_at, now + policy.overlap)
        lines.append(f"{agent['id']}: rotated; the old token works until {when(cutoff)}")
    return lines, healthy


def main():
    try:
        with open(os.environ.get("PLANE_K3S_SPEC_FILE", "/etc/plane-k3s/token-rotation.json"), encoding="utf-8") as spec_file:
            spec = json.load(spec_file)
        lines, healthy = rotate(spec, plane_k3s_kube.Api())
    except ProvisioningError as error:
        print(f"rotate-tokens failed: {error}", file=sys.stderr)
        sys.exit(1)
    except Exception as error:  # noqa: BLE001  never a traceback that could quote a token
        print(f"rotate-tokens failed: {type(error).__name__}: {TOKEN.sub('plane_api_<hidden>', str(error))}", file=sys.stderr)
        sys.exit(1)
    for line in lines:
        print(f"rotate-tokens: {line}")
    if not healthy:
        sys.exit(1)
