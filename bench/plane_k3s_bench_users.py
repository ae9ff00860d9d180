"""The bench's own users on a Plane backend you run (`npm run bench:agents`, docs/capacity.md): never the
site's agents, whose tokens the provisioning rotates. Run through Plane's `manage.py shell` with the
backend's environment, the provisioning module beside it (its rows are Plane's, as the UI writes them):

  PYTHONPATH=lib/plane/provision:bench PLANE_BENCH_DIR=<dir> python manage.py shell \
    --command "import plane_k3s_bench_users; plane_k3s_bench_users.main()"

It makes, in its own workspace (PLANE_BENCH_WORKSPACE, default "agent-bench": the site's workspace keeps
exactly the site's members), PLANE_BENCH_AGENTS members (default 10, bench-agent-NN@<workspace>.bench.plane-k3s.local)
with one API token each, and one workspace admin (bench-human@...) who signs in with a password (the
human's UI traffic). The tokens (one a line) and the password are the files `tokens` and `ui-password` of
PLANE_BENCH_DIR, 0600: made on the first run, reused on the next ones, so a second run writes no row.
Nothing secret is printed. PLANE_BENCH_REMOVE=1 deactivates that workspace's bench tokens and memberships
instead (the work the bench made stays).
"""
import os
import secrets
import sys

import plane_k3s_provision as provision

# Not the provisioning's "plane-k3s:" prefix: the site's provisioning retires the agent tokens it manages
# that the site no longer names, and must never see these. Users and labels are the workspace's own, so
# that removing one bench workspace's users leaves another's alone.
TOKEN_LABEL_PREFIX = "plane-k3s-bench:"
HUMAN = "bench-human"


def email_domain(workspace_slug):
    return f"{workspace_slug}.bench.plane-k3s.local"


def token_label(workspace_slug, name):
    return f"{TOKEN_LABEL_PREFIX}{workspace_slug}:{name}"


def person(workspace_slug, name, role):
    return {"email": f"{name}@{email_domain(workspace_slug)}", "displayName": name, "firstName": name, "lastName": "", "role": role}


def secret_file(path, make):
    """The file's value, or a new one written 0600 (never printed)."""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as existing:
            return existing.read()
    value = make()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as created:
        created.write(value)
    return value


def read_inputs():
    directory = os.environ.get("PLANE_BENCH_DIR", "")
    if not directory:
        raise provision.ProvisioningError("PLANE_BENCH_DIR is empty: name a directory for the bench's tokens and password")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    count = int(os.environ.get("PLANE_BENCH_AGENTS", "10"))
    new_token = lambda: f"plane_api_{secrets.token_hex(16)}"  # noqa: E731
    tokens = secret_file(os.path.join(directory, "tokens"), lambda: "".join(f"{new_token()}\n" for _ in range(count))).split()
    if len(tokens) != count:
        raise provision.ProvisioningError(f"{directory}/tokens holds {len(tokens)} tokens, not PLANE_BENCH_AGENTS={count}: remove it to make new ones")
    for index, token in enumerate(tokens):
        provision.check_token(f"line {index + 1} of {directory}/tokens", token)
    password = secret_file(os.path.join(directory, "ui-password"), lambda: secrets.token_urlsafe(24))
    return tokens, password


def converge(workspace_slug, tokens, password):
    from crum import impersonate
    from django.core.cache import cache
    from django.db import transaction

    from plane.db.models import APIToken, Profile, User, Workspace, WorkspaceMember

    changes = provision.Changes()
    with transaction.atomic():
        workspace = Workspace.objects.filter(slug=workspace_slug).first()
        human = provision.ensure_user(User, Profile, person(workspace_slug, HUMAN, "Admin"), changes, workspace.id if workspace else None, password=password)
        if not human.check_password(password):
            human.set_password(password)
            human.save()
            changes.add("passwords set")
        with impersonate(human):
            if workspace is None:
                workspace = Workspace.objects.create(name="Agent bench", slug=workspace_slug, owner=human)
                changes.add("workspaces created")
                for profile in Profile.objects.filter(user=human, last_workspace_id__isnull=True):
                    provision.converge(profile, changes, "profiles updated", last_workspace_id=workspace.id)
            provision.ensure_membership(WorkspaceMember, workspace, human, provision.ROLES["Admin"], changes)
            for index, token in enumerate(tokens):
                name = f"bench-agent-{index + 1:02d}"
                user = provision.ensure_user(User, Profile, person(workspace_slug, name, "Member"), changes, workspace.id)
                provision.ensure_membership(WorkspaceMember, workspace, user, provision.ROLES["Member"], changes)
                # ensure_token deactivates the user's older tokens of the provisioning's prefix only: none here.
                provision.ensure_token(APIToken, user, token_label(workspace_slug, name), token, changes)
    provision.invalidate_caches(cache, workspace_slug)
    return changes


def remove(workspace_slug):
    from django.core.cache import cache
    from django.db import transaction

    from plane.db.models import APIToken, WorkspaceMember

    changes = provision.Changes()
    with transaction.atomic():
        for token in APIToken.objects.filter(label__startswith=token_label(workspace_slug, ""), is_active=True):
            provision.converge(token, changes, "api tokens deactivated", is_active=False)
        for member in WorkspaceMember.objects.filter(workspace__slug=workspace_slug, member__email__endswith=f"@{email_domain(workspace_slug)}", is_active=True):
            provision.converge(member, changes, "workspace members deactivated", is_active=False)
    provision.invalidate_caches(cache, workspace_slug)
    return changes


def main():
    workspace_slug = os.environ.get("PLANE_BENCH_WORKSPACE", "agent-bench")
    try:
        if os.environ.get("PLANE_BENCH_REMOVE") == "1":
            print(f"bench users: workspace {workspace_slug}, removed; rows written: {remove(workspace_slug)}")
            return
        tokens, password = read_inputs()
        changes = converge(workspace_slug, tokens, password)
    except provision.ProvisioningError as error:
        print(f"bench users failed: {error}", file=sys.stderr)
        sys.exit(1)
    except Exception as error:  # noqa: BLE001  a database error can quote a row, a token in it: masked, no traceback
        print(f"bench users failed: {type(error).__name__}: {provision.TOKEN.sub('plane_api_<hidden>', str(error))}", file=sys.stderr)
        sys.exit(1)
    print(f"bench users: workspace {workspace_slug}, {HUMAN} (Admin) and {len(tokens)} agents converged; rows written: {changes}")
