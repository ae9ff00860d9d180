#!/bin/sh
# Runs before the image's entrypoint, in the postgres container, as its user (POSIX sh). A data
# directory made when Plane's role was the server's superuser (the image's POSTGRES_USER) is moved to
# the split roles: the server is started on its socket only, Plane's role becomes a non-superuser
# owning its database (plane-k3s-roles.sql), and the server stops again; then the entrypoint runs. A new
# volume gets the same from the entrypoint's initdb hook. Changes nothing once done.
#
#   ensure-roles.sh COMMAND...     (COMMAND: the image's entrypoint and its arguments)
#
# Environment: PGDATA, PLANE_USER, POSTGRES_DB, POSTGRES_PASSWORD, PLANE_K3S_HBA_FILE;
# PLANE_K3S_ROLES_SQL and PLANE_K3S_SOCKET_DIR (defaults: the initdb hook, /var/run/postgresql).
set -eu
sql="${PLANE_K3S_ROLES_SQL:-/docker-entrypoint-initdb.d/plane-k3s-roles.sql}"
socket="${PLANE_K3S_SOCKET_DIR:-/var/run/postgresql}"

if [ -s "${PGDATA:?}/PG_VERSION" ]; then
  # A failure stops the server again: the entrypoint never starts beside a half-done move.
  trap 'pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true' EXIT
  pg_ctl -D "$PGDATA" -w -l "$socket/ensure-roles.log" \
    -o "-c listen_addresses= -c unix_socket_directories=$socket -c hba_file=${PLANE_K3S_HBA_FILE:?}" start >/dev/null
  as() { psql -X -At -v ON_ERROR_STOP=1 -h "$socket" -U "$1" -d postgres -c "$2"; }
  # The bootstrap superuser (the role initdb made) is the only one that surely exists.
  admin=postgres
  as "$admin" 'SELECT 1' >/dev/null 2>&1 || admin="${PLANE_USER:?}"
  if [ "$(as "$admin" 'SELECT rolname FROM pg_roles WHERE oid = 10')" = "$PLANE_USER" ]; then
    # PostgreSQL never lets the bootstrap superuser lose SUPERUSER: it is renamed postgres (from a
    # second superuser's session), and Plane's role is made anew by the SQL, which takes over its objects.
    echo "ensure-roles: $PLANE_USER is the server's superuser: it becomes postgres, and $PLANE_USER a non-superuser owning $POSTGRES_DB"
    as "$PLANE_USER" 'CREATE ROLE plane_k3s_rename SUPERUSER LOGIN' >/dev/null
    as plane_k3s_rename "ALTER ROLE \"$PLANE_USER\" RENAME TO postgres" >/dev/null
  fi
  psql -X -q -v ON_ERROR_STOP=1 -h "$socket" -U postgres -d postgres -f "$sql" >/dev/null
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  trap - EXIT
fi
exec "$@"
