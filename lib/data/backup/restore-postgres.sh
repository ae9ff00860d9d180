#!/bin/sh
# Restores the unpacked backup into Plane's database (second step of the restore; POSIX sh, runs in the
# postgres image, with the database password only).
#
#   Refuses a backup of another Plane version (its stamp) unless RESTORE_ALLOW_VERSION names that
#   version, a dump that does not list (`pg_restore --list`), and any other client connected to the
#   database (Plane must be stopped: plane-k3s restore does it). Then, in one transaction, the schema
#   public is dropped and made again, empty, the dump restored into it, and the result checked against
#   what the backup recorded (check-restored.sql: every table, its row count, the migration head): any
#   failure rolls the whole restore back, leaving the database as it was.
#
# Environment: PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD (libpq); WORK_DIR; PLANE_VERSION;
# RESTORE_BACKUP ("list" does nothing here); RESTORE_ALLOW_VERSION.
set -eu

[ "${RESTORE_BACKUP:-latest}" = list ] && exit 0
here="$(dirname "$0")"
work="${WORK_DIR:?}"
stamp="$work/postgres/stamp"
dump="$work/postgres/plane.dump"
snapshot="$(cat "$work/snapshot")"
value() { sed -n "s/^$1=//p" "$stamp"; }
backup_version="$(value plane_version)"
if [ "$backup_version" != "${PLANE_VERSION:?}" ] && [ "${RESTORE_ALLOW_VERSION:-}" != "$backup_version" ]; then
  echo "restore: snapshot $snapshot is a backup of Plane $backup_version, this stack runs Plane $PLANE_VERSION: refused, nothing was changed" \
    "(restore it with the $backup_version images, or override with RESTORE_ALLOW_VERSION=$backup_version)" >&2
  exit 1
fi
if ! pg_restore --list "$dump" >/dev/null; then
  echo "restore: the dump of snapshot $snapshot cannot be read (pg_restore --list failed): nothing was changed" >&2
  exit 1
fi
others="$(psql --no-password -X -Atc "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")"
if [ "$others" != 0 ]; then
  echo "restore: $others other connections to $PGDATABASE: stop Plane first (plane-k3s restore does); nothing was changed" >&2
  exit 1
fi

# One transaction: the schema dropped and made again, the dump restored and checked; any failure leaves
# the database as it was.
. "$here/restore-checked.sh"
if ! restore_checked "$work" 'DROP SCHEMA public CASCADE;
CREATE SCHEMA public AUTHORIZATION pg_database_owner;
GRANT USAGE ON SCHEMA public TO PUBLIC;'; then
  echo "restore: snapshot $snapshot could not be restored and checked (above): the database is as it was" >&2
  exit 1
fi
echo "restore: snapshot $snapshot restored into $PGDATABASE: Plane $backup_version, migration $(value migration), $(value tables) tables with the recorded row counts"
