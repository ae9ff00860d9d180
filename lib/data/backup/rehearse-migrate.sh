#!/bin/sh
# An upgrade rehearsal's migration (last step of the rehearsal; POSIX sh, runs in the target release's
# backend image, with no credential of the stack): waits until the copy is served on 127.0.0.1
# (rehearse-postgres.sh), then runs the target's own `manage.py migrate` against it, as the migrator Job
# of that release would, and reports the migrations it applied and how long it took. Its exit status is
# the migration's; it is handed back to the server step (done), which then drops the copy.
#
# Run from the image's working directory (Plane's Django project). Django's SECRET_KEY is left unset:
# Plane's settings then make a random one, and migrations sign nothing. REDIS_URL must name some address
# (plane/celery.py builds a Redis client when Django loads); nothing connects to it during migrations.
#
# Environment: REHEARSAL_SIGNALS (the signals rehearse-postgres.sh describes); REHEARSAL_TARGET (the release, for the report); REHEARSAL_PORT (default 5432);
# REHEARSAL_WAIT_SECONDS (the longest wait for the copy, default 3600).
set -eu

signals="${REHEARSAL_SIGNALS:?}"
target="${REHEARSAL_TARGET:-(REHEARSAL_TARGET unset)}"
wait_seconds="${REHEARSAL_WAIT_SECONDS:-3600}"
waited=0
until [ -e "$signals/ready" ]; do
  if [ -e "$signals/failed" ]; then
    echo "rehearsal: nothing migrated: the copy could not be made (the rehearse-postgres step says why)" >&2
    exit 1
  fi
  if [ "$waited" -ge "$wait_seconds" ]; then
    echo "rehearsal: nothing migrated: no copy served within $wait_seconds s" >&2
    exit 1
  fi
  sleep 1
  waited=$((waited + 1))
done

status=1
trap 'echo "$status" >"$signals/done"' EXIT
DATABASE_URL="postgresql://plane:$(cat "$signals/password")@127.0.0.1:${REHEARSAL_PORT:-5432}/plane"
export DATABASE_URL

if ! plan="$(python manage.py showmigrations --plan 2>&1)"; then
  printf '%s\n' "$plan" >&2
  echo "rehearsal: Plane $target could not read the copy's migrations (above): nothing migrated" >&2
  exit 1
fi
pending="$(printf '%s\n' "$plan" | sed -n 's/^\[ \] *//p')"
count="$(printf '%s\n' "$pending" | grep -c . || true)"
echo "rehearsal: Plane $target: $count migrations to apply${pending:+: $(printf '%s' "$pending" | tr '\n' ' ' | sed 's/ $//')}"
started="$(date +%s)"
if python manage.py migrate --no-input; then
  status=0
else
  status=$?
fi
seconds=$(($(date +%s) - started))
left="$(python manage.py showmigrations --plan 2>/dev/null | grep -c '^\[ \]' || true)"
if [ "$status" = 0 ] && [ "$left" = 0 ]; then
  echo "rehearsal: Plane $target migrated the copy in $seconds s: $count migrations applied, none left"
else
  [ "$status" = 0 ] && status=1
  echo "rehearsal: Plane $target's migration FAILED after $seconds s (exit $status, $left migrations not applied): see its output above" >&2
fi
exit "$status"
