#!/bin/sh
# The copy an upgrade rehearsal migrates (second step of the rehearsal; POSIX sh, runs in the postgres
# image, with no credential of the stack): a scratch PostgreSQL server in the pod's scratch volume, the
# unpacked backup restored into it and checked (as the drill does), owned by a role `plane` that is no
# superuser, as Plane's role in the stack. It listens on 127.0.0.1 only (the pod's own loopback: only
# the rehearsal's containers reach it), with a password made here for this run, handed to the migration
# step through the scratch volume. It serves the copy until the migration step says it is done, then
# stops and deletes the copy: Plane's own server is never touched.
#
#   Signals, in REHEARSAL_SIGNALS (a small volume both steps mount; the migration step does not see the
#   scratch volume): password, ready (the copy is served), failed (it could not be made), done (written
#   by the migration step: its exit status).
#
# Environment: WORK_DIR; REHEARSAL_SIGNALS; REHEARSAL_PORT (default 5432); REHEARSAL_WAIT_SECONDS (the longest wait for the
# migration step, default 3600).
set -eu
umask 077

here="$(dirname "$0")"
work="${WORK_DIR:?}"
stamp="$work/postgres/stamp"
snapshot="$(cat "$work/snapshot")"
value() { sed -n "s/^$1=//p" "$stamp"; }
signals="${REHEARSAL_SIGNALS:?}"
data="$work/rehearsal-server"
port="${REHEARSAL_PORT:-5432}"
wait_seconds="${REHEARSAL_WAIT_SECONDS:-3600}"
unset PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE
mkdir -p "$signals"
started="$(date +%s)"

fail() {
  echo "rehearsal: $*" >&2
  : >"$signals/failed"
  exit 1
}
drop_copy() {
  pg_ctl --pgdata="$data" --mode=fast --wait --silent stop >/dev/null 2>&1 || true
  rm -rf "$data" "$signals/password"
}
trap drop_copy EXIT

# The superuser `rehearsal` on the server's own socket only; `plane` by password on 127.0.0.1.
initdb --pgdata="$data" --username=rehearsal --auth-local=trust --auth-host=scram-sha-256 \
  --encoding=UTF8 --locale=C --no-instructions >/dev/null
pg_ctl --pgdata="$data" --log="$data/server.log" --wait --silent \
  --options="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$data'" start ||
  fail "the scratch server did not start: $(tail -n 1 "$data/server.log")"
export PGHOST="$data" PGPORT="$port" PGUSER=rehearsal

if ! pg_restore --list "$work/postgres/plane.dump" >/dev/null; then
  fail "the dump of snapshot $snapshot cannot be read (pg_restore --list failed)"
fi
password="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s' "$password" >"$signals/password"
psql -X -q --set=ON_ERROR_STOP=1 --set=password="$password" -d postgres <<'SQL'
CREATE ROLE plane LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';
CREATE DATABASE plane OWNER plane;
SQL
. "$here/restore-checked.sh"
# As plane, so the copy's tables are plane's, as in the stack: a migration that needs more fails here too.
restore_checked "$work" '' -U plane -d plane || fail "snapshot $snapshot could not be restored and checked (above)"
echo "rehearsal: snapshot $snapshot restored into a scratch server in $(($(date +%s) - started)) s: Plane $(value plane_version), migration $(value migration), $(value tables) tables with the recorded row counts"
: >"$signals/ready"

waited=0
until [ -e "$signals/done" ]; do
  [ "$waited" -lt "$wait_seconds" ] || fail "the migration step did not finish within $wait_seconds s"
  sleep 1
  waited=$((waited + 1))
done
head="$(psql -X -At -U plane -d plane -c "SELECT app || '.' || name FROM django_migrations ORDER BY app = 'db' DESC, id DESC LIMIT 1" 2>/dev/null || echo none)"
echo "rehearsal: the copy ended at migration $head; copy dropped (scratch server stopped, its files deleted)"
