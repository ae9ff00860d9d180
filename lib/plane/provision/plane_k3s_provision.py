"""Converges Plane to the site file's `users:` section (run by the provisioning Job through
`python manage.py shell`, with the backend's environment).

It writes, with Plane's own models, the rows Plane's UI writes when a person signs up as instance
admin, creates a workspace, invites and onboards members and creates API tokens
(license/api/views/admin.py, app/views/workspace/base.py, app/views/api.py at v1.2.2), so the users
it makes behave like users made by hand. One transaction; a second run changes no row.

Inputs (never printed): the spec file PLANE_K3S_USERS_FILE (JSON, from the Job's ConfigMap), the
admin's initial password PLANE_ADMIN_PASSWORD and API token PLANE_ADMIN_API_KEY, and one token per
agent in PLANE_AGENT_API_KEY_<ID> (id upper-cased, "-" as "_"), all from the Secrets the bootstrap
Job made. Tokens are written into Plane, never read out of it. PLANE_K3S_TOKEN_OVERLAP_HOURS, when
set, replaces the spec's overlap (0: a replaced token stops now, for a leaked one).

Token lifetime (the spec's `tokens`): an agent's token expires `lifetimeDays` after it was made (never,
when unset; the admin's never does). A token replaced in its Secret keeps working `overlapHours` after
its successor reached Plane, then stops: agents that still hold it finish their work.
"""
import datetime
import json
import os
import re
import sys
import time
import uuid

# The Plane versions whose models and views this was checked against and run with (npm run test:plane);
# the same list as lib/config/plane-releases.ts (test/plane-releases.test.ts ties the two).
SUPPORTED_PLANE_VERSIONS = ("v1.2.2", "v1.2.3", "v1.3.1")
ROLES = {"Admin": 20, "Member": 15, "Guest": 5}
# The label marks the tokens this provisioning manages; other tokens (made in the UI) are left alone.
TOKEN_LABEL_PREFIX = "plane-k3s:"
ONBOARDING_DONE = {"profile_complete": True, "workspace_create": True, "workspace_invite": True, "workspace_join": True}
INSTANCE_WAIT_SECONDS = int(os.environ.get("PLANE_K3S_INSTANCE_WAIT_SECONDS", "900"))
TOKEN = re.compile(r"plane_api_[0-9a-f]{32}")


class ProvisioningError(Exception):
    """A problem the operator fixes; printed as one line, never with a secret."""


class Changes:
    """Counts what a run wrote, by kind, for its one-line report."""

    def __init__(self):
        self.counts = {}
        self.warnings = []

    def add(self, kind):
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def warn(self, line):
        self.warnings.append(line)

    def __str__(self):
        return ", ".join(f"{kind} {count}" for kind, count in sorted(self.counts.items())) or "nothing"


def converge(obj, changes, what, **fields):
    """Sets the fields that differ and saves only then (a second run writes nothing); counts it as `what`."""
    changed = [name for name, value in fields.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, fields[name])
    if changed:
        obj.save()
        changes.add(what)
    return obj


def secret_env(name):
    value = os.environ.get(name, "")
    if not value:
        raise ProvisioningError(f"{name} is empty: the Secret it comes from is missing that key")
    return value


def token_variable(agent_id):
    return "PLANE_AGENT_API_KEY_" + agent_id.upper().replace("-", "_")


def agent_label(agent_id):
    return f"{TOKEN_LABEL_PREFIX}agent:{agent_id}"


def timezone_now():
    return datetime.datetime.now(datetime.timezone.utc)


def check_token(name, value):
    # Plane's own format (plane_api_ + 32 hex): anything else would be a wrong Secret.
    if not (value.startswith("plane_api_") and len(value) == 42 and all(c in "0123456789abcdef" for c in value[10:])):
        raise ProvisioningError(f"{name} is not a Plane API token (plane_api_ followed by 32 hex digits)")
    return value


def wait_for_instance(Instance):
    """The api registers the instance when it first starts (register_instance)."""
    deadline = time.monotonic() + INSTANCE_WAIT_SECONDS
    while time.monotonic() < deadline:
        if Instance.objects.exists():
            return
        time.sleep(5)
    raise ProvisioningError(f"no Plane instance registered after {INSTANCE_WAIT_SECONDS} s: is the api running (kubectl -n plane logs deployment/plane-api)?")


def ensure_user(User, Profile, person, changes, workspace_id, password=None, company_name=""):
    email = person["email"].strip().lower()
    user = User.objects.filter(email=email).first()
    names = {"first_name": person["firstName"], "last_name": person["lastName"], "display_name": person["displayName"]}
    if user is None:
        user = User(email=email, username=uuid.uuid4().hex, is_active=True, is_bot=False, is_email_verified=True, **names)
        if password is None:
            # Agents sign in with their token only; Plane marks such users' passwords as autoset.
            user.set_unusable_password()
            user.is_password_autoset = True
        else:
            user.set_password(password)
            user.is_password_autoset = False
        user.save()  # Plane's post_save signal adds the notification preferences
        changes.add("users created")
    else:
        # Names and state follow the site; a password set later by the person is left alone.
        converge(user, changes, "users updated", is_active=True, is_bot=False, **names)
    profile = Profile.objects.filter(user=user).first()
    if profile is None:
        Profile.objects.create(user=user, company_name=company_name, is_onboarded=True, last_workspace_id=workspace_id, onboarding_step=dict(ONBOARDING_DONE))
        changes.add("profiles created")
    else:
        fields = {"is_onboarded": True, "onboarding_step": {**profile.onboarding_step, **ONBOARDING_DONE}}
        if profile.last_workspace_id is None:
            fields["last_workspace_id"] = workspace_id
        converge(profile, changes, "profiles updated", **fields)
    return user


def ensure_membership(WorkspaceMember, workspace, user, role, changes):
    member = WorkspaceMember.objects.filter(workspace=workspace, member=user).first()
    if member is None:
        WorkspaceMember.objects.create(workspace=workspace, member=user, role=role, is_active=True)
        changes.add("workspace members created")
    else:
        converge(member, changes, "workspace members updated", role=role, is_active=True)


class TokenPolicy:
    """How long a managed token lives and how long a replaced one keeps working (the spec's `tokens`)."""

    def __init__(self, spec_tokens, overlap_override=None):
        spec_tokens = spec_tokens or {}
        lifetime = spec_tokens.get("lifetimeDays")
        self.lifetime = datetime.timedelta(days=lifetime) if lifetime else None
        hours = spec_tokens.get("overlapHours", 0) if overlap_override in (None, "") else overlap_override
        try:
            self.overlap = datetime.timedelta(hours=float(hours))
        except ValueError:
            raise ProvisioningError(f"PLANE_K3S_TOKEN_OVERLAP_HOURS is {hours!r}: expected a number of hours") from None
        if self.overlap < datetime.timedelta(0):
            raise ProvisioningError("PLANE_K3S_TOKEN_OVERLAP_HOURS is negative: expected 0 or more hours")

    @classmethod
    def of(cls, spec):
        return cls(spec.get("tokens"), os.environ.get("PLANE_K3S_TOKEN_OVERLAP_HOURS"))

    def expiry(self, token, expires):
        """When Plane stops accepting `token` while it is its Secret's: its lifetime after it was made, if it has one."""
        return token.created_at + self.lifetime if expires and self.lifetime else None


def ensure_token(APIToken, user, label, value, changes, policy=None, expires=False, now=None):
    """The user's one managed token holds `value`, with the policy's expiry when `expires`; the user's
    other managed tokens keep working until the overlap after `value` reached Plane, then stop."""
    policy = policy or TokenPolicy(None)
    now = now or timezone_now()
    current = APIToken.objects.filter(token=value).first()
    if current is not None and current.user_id != user.id:
        raise ProvisioningError(f"the token for {label} already belongs to another Plane user: give each Secret its own token")
    if current is None:
        current = APIToken.objects.create(user=user, label=label, description="Managed by plane-k3s (site file users:)", user_type=0, token=value)
        changes.add("api tokens created")
    converge(current, changes, "api tokens updated", label=label, is_active=True, expired_at=policy.expiry(current, expires))
    now = max(now, current.created_at)
    cutoff = current.created_at + policy.overlap
    stale = APIToken.objects.filter(user=user, label__startswith=TOKEN_LABEL_PREFIX, is_active=True).exclude(token=value)
    for token in stale:
        # A token newer than the Secret's (a rotation whose Secret update failed, a Secret put back from a
        # backup) stops now; an older one at the end of the overlap, or at its own expiry if sooner.
        ends = cutoff if token.created_at <= current.created_at else current.created_at
        if token.expired_at is not None:
            ends = min(ends, token.expired_at)
        if now >= ends:
            converge(token, changes, "api tokens deactivated", is_active=False)
        else:
            converge(token, changes, "api tokens overlapping", expired_at=ends)
    return current


def retire_removed_agents(models, workspace, kept_user_ids, changes):
    """Agents no longer in the site lose their memberships and tokens; their work stays."""
    APIToken, WorkspaceMember, ProjectMember = models
    managed = APIToken.objects.filter(label__startswith=TOKEN_LABEL_PREFIX + "agent:", is_active=True).exclude(user_id__in=kept_user_ids)
    for token in managed:
        user_id = token.user_id
        converge(token, changes, "api tokens deactivated", is_active=False)
        for member in WorkspaceMember.objects.filter(workspace=workspace, member_id=user_id, is_active=True):
            converge(member, changes, "workspace members deactivated", is_active=False)
        for member in ProjectMember.objects.filter(workspace=workspace, member_id=user_id, is_active=True):
            converge(member, changes, "project members deactivated", is_active=False)


def invalidate_caches(cache, slug):
    # The web and god-mode read these through Plane's cache; they would show the old state for hours.
    cache.delete("/api/instances/")
    for pattern in (f"*/api/workspaces/{slug}/*", "*/api/users/me/*", "*/api/instances/*"):
        cache.delete_pattern(pattern)


def provision(spec):
    from crum import impersonate
    from django.core.cache import cache
    from django.db import transaction

    from plane.db.models import APIToken, Profile, ProjectMember, User, Workspace, WorkspaceMember
    from plane.license.models import Instance, InstanceAdmin, InstanceConfiguration

    version = os.environ.get("APP_VERSION", "")
    if version not in SUPPORTED_PLANE_VERSIONS:
        raise ProvisioningError(
            f"Plane {version or '(APP_VERSION unset)'} is not a version this provisioning was written for "
            f"({', '.join(SUPPORTED_PLANE_VERSIONS)}): check its models against the new release, then add it to SUPPORTED_PLANE_VERSIONS")

    admin_spec = spec["admin"]
    admin_password = secret_env("PLANE_ADMIN_PASSWORD")
    admin_token = check_token("PLANE_ADMIN_API_KEY", secret_env("PLANE_ADMIN_API_KEY"))
    agent_tokens = {a["id"]: check_token(token_variable(a["id"]), secret_env(token_variable(a["id"]))) for a in spec["agents"]}

    policy = TokenPolicy.of(spec)
    wait_for_instance(Instance)
    changes = Changes()
    with transaction.atomic():
        instance = Instance.objects.select_for_update().first()
        workspace = Workspace.objects.filter(slug=spec["workspace"]["slug"]).first()
        workspace_id = workspace.id if workspace else None

        admin = ensure_user(User, Profile, admin_spec, changes, workspace_id, password=admin_password, company_name=spec["instanceName"])
        # BaseModel.save fills created_by/updated_by from the current user (None otherwise, also on
        # updates): every write is made as the admin, as through the admin's own requests.
        with impersonate(admin):
            if not InstanceAdmin.objects.filter(instance=instance, user=admin).exists():
                InstanceAdmin.objects.create(instance=instance, user=admin, role=20)
                changes.add("instance admins created")
            converge(instance, changes, "instance updated", is_setup_done=True, instance_name=spec["instanceName"], is_telemetry_enabled=spec["telemetry"])
            for key, value in spec["instanceSettings"].items():
                setting, created = InstanceConfiguration.objects.get_or_create(key=key, defaults={"value": value, "category": "CORE", "is_encrypted": False})
                if created:
                    changes.add("instance settings created")
                else:
                    converge(setting, changes, "instance settings updated", value=value)

            if workspace is None:
                workspace = Workspace.objects.create(name=spec["workspace"]["name"], slug=spec["workspace"]["slug"], owner=admin)
                changes.add("workspaces created")
                for profile in Profile.objects.filter(user=admin, last_workspace_id__isnull=True):
                    converge(profile, changes, "profiles updated", last_workspace_id=workspace.id)
            else:
                converge(workspace, changes, "workspaces updated", name=spec["workspace"]["name"], owner=admin)
            ensure_membership(WorkspaceMember, workspace, admin, ROLES[admin_spec["role"]], changes)
            ensure_token(APIToken, admin, TOKEN_LABEL_PREFIX + "admin", admin_token, changes)

            kept = [admin.id]
            for agent in spec["agents"]:
                user = ensure_user(User, Profile, agent, changes, workspace.id)
                ensure_membership(WorkspaceMember, workspace, user, ROLES[agent["role"]], changes)
                token = ensure_token(APIToken, user, agent_label(agent["id"]), agent_tokens[agent["id"]], changes, policy, expires=True)
                if token.expired_at is not None and token.expired_at <= timezone_now():
                    changes.warn(f"agent {agent['id']}'s token expired at {token.expired_at.isoformat(timespec='minutes')}: rotate it (docs/agents.md \"Token lifetime and rotation\")")
                kept.append(user.id)
            retire_removed_agents((APIToken, WorkspaceMember, ProjectMember), workspace, kept, changes)

    invalidate_caches(cache, spec["workspace"]["slug"])
    return changes


def main():
    try:
        with open(os.environ.get("PLANE_K3S_USERS_FILE", "/etc/plane-k3s/users.json"), encoding="utf-8") as spec_file:
            spec = json.load(spec_file)
        changes = provision(spec)
    except ProvisioningError as error:
        print(f"provision failed: {error}", file=sys.stderr)
        sys.exit(1)
    except Exception as error:  # noqa: BLE001  a database error can quote a row, a token in it: masked, no traceback
        print(f"provision failed: {type(error).__name__}: {TOKEN.sub('plane_api_<hidden>', str(error))}", file=sys.stderr)
        sys.exit(1)
    for line in changes.warnings:
        print(f"provision: warning: {line}")
    print(f"provision: workspace {spec['workspace']['slug']}, admin and {len(spec['agents'])} agents converged; rows written: {changes}")
