#!/bin/sh
# The restore drill's check (second step of the drill; POSIX sh, runs in the postgres image, with no
# credential at all): a throw-away PostgreSQL server in the pod's scratch volume, the unpacked dump
# restored into it in one transaction and checked against what the backup recorded (check-restored.sql:
# every table, its row count, the migration head). The server and its files go with the pod; Plane's
# own server is never touched.
#
# Environment: WORK_DIR.
set -eu
umask 077

here="$(dirname "$0")"
work="${WORK_DIR:?}"
stamp="$work/postgres/stamp"
snapshot="$(cat "$work/snapshot")"
value() { sed -n "s/^$1=//p" "$stamp"; }
data="$work/drill-server"
unset PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE
started="$(date +%s)"

initdb --pgdata="$data" --username=drill --auth=trust --encoding=UTF8 --locale=C --no-instructions >/dev/null
pg_ctl --pgdata="$data" --log="$data/server.log" --wait --silent \
  --options="-c listen_addresses='' -c unix_socket_directories='$data' -c fsync=off -c full_page_writes=off" start
trap 'pg_ctl --pgdata="$data" --mode=immediate --wait --silent stop >/dev/null 2>&1 || true' EXIT
export PGHOST="$data" PGUSER=drill

if ! pg_restore --list "$work/postgres/plane.dump" >/dev/null; then
  echo "drill: the dump of snapshot $snapshot cannot be read (pg_restore --list failed)" >&2
  exit 1
fi
psql -X -q -d postgres -c 'CREATE DATABASE drill'
. "$here/restore-checked.sh"
if ! restore_checked "$work" '' -d drill; then
  echo "drill: snapshot $snapshot could not be restored and checked (above)" >&2
  exit 1
fi
echo "drill: snapshot $snapshot restored into a scratch server in $(( $(date +%s) - started )) s: Plane $(value plane_version), migration $(value migration), $(value tables) tables with the recorded row counts"
