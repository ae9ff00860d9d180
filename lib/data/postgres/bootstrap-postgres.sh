#!/bin/sh
# Makes Plane's role and database on a shared PostgreSQL server (the seed's setup): the bootstrap Job of
# data.postgres.external, POSIX sh in the postgres image, with the operator's admin credentials.
#
#   Role PLANE_USER (LOGIN, password PLANE_PASSWORD: the stack's Secret, the seed's one shared password)
#   and database PLANE_DATABASE owned by it, each created only if absent. If the role exists but the
#   password does not let it in, the password is set to the Secret's (so a re-run converges it); nothing
#   else is ever altered or dropped. A second run changes nothing.
#
# Environment: PGHOST, PGPORT (libpq); ADMIN_USER, ADMIN_PASSWORD; PLANE_USER, PLANE_PASSWORD,
# PLANE_DATABASE. Passwords reach psql through the environment (\getenv), never its command line.
set -eu

as_admin() { PGUSER="$ADMIN_USER" PGPASSWORD="$ADMIN_PASSWORD" psql --no-password -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }
plane_can_log_in() { PGUSER="$PLANE_USER" PGPASSWORD="$PLANE_PASSWORD" psql --no-password -X -q -d "$PLANE_DATABASE" -Atc 'SELECT 1' >/dev/null 2>&1; }

if ! problem="$(as_admin -Atc 'SELECT 1' 2>&1 >/dev/null)"; then
  echo "bootstrap: cannot connect to $PGHOST:$PGPORT as $ADMIN_USER: $(printf '%s' "$problem" | head -n 1 | sed 's/^psql: //')" >&2
  echo "bootstrap: check the admin Secret named by data.postgres.external.adminSecret (keys username, password)" >&2
  exit 1
fi

as_admin <<'SQL'
\getenv plane_user PLANE_USER
\getenv plane_password PLANE_PASSWORD
\getenv plane_database PLANE_DATABASE
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'plane_user', :'plane_password')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'plane_user') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'plane_database', :'plane_user')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'plane_database') \gexec
SQL

if plane_can_log_in; then
  echo "bootstrap: role $PLANE_USER and database $PLANE_DATABASE are in place"
  exit 0
fi
as_admin <<'SQL'
\getenv plane_user PLANE_USER
\getenv plane_password PLANE_PASSWORD
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'plane_user', :'plane_password') \gexec
SQL
if ! plane_can_log_in; then
  echo "bootstrap: $PLANE_USER still cannot log in to $PLANE_DATABASE (pg_hba.conf of the shared server?)" >&2
  exit 1
fi
echo "bootstrap: the password of role $PLANE_USER was set to the stack's Secret"
