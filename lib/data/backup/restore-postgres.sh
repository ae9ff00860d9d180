#!/bin/sh
# Restores a dump of Plane's database (the restore Job; POSIX sh, runs in the postgres image).
#
#   RESTORE_DUMP names a file of BACKUP_DIR/postgres (plane-<UTC time>.dump), or "latest", or "list"
#   (prints the dumps there and changes nothing). The dump is
#   checked first (`pg_restore --list`); then, in one transaction, the schema `public` is dropped and
#   made again, empty, and the dump restored into it: tables a later migration added are gone too, so
#   the database is exactly what was dumped. Plane must be stopped meanwhile (README, "Backups").
#
# Environment: PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD (libpq); BACKUP_DIR; RESTORE_DUMP.
set -eu

dir="${BACKUP_DIR:?}/postgres"
choice="${RESTORE_DUMP:-latest}"
if [ "$choice" = list ]; then
  for candidate in "$dir"/plane-*.dump; do
    [ -f "$candidate" ] && echo "restore: $(basename "$candidate") $(wc -c <"$candidate") bytes"
  done
  exit 0
fi
if [ "$choice" = latest ]; then
  newest=""
  for candidate in "$dir"/plane-*.dump; do [ -f "$candidate" ] && newest="$candidate"; done  # globs sort by name, so by time
  [ -n "$newest" ] || { echo "restore: no dump in $dir" >&2; exit 1; }
  choice="$(basename "$newest")"
fi
case "$choice" in
  */*|'') echo "restore: RESTORE_DUMP must name a file of $dir, e.g. plane-20261130T023000Z.dump" >&2; exit 1 ;;
esac
dump="$dir/$choice"
[ -f "$dump" ] || { echo "restore: $choice is not in $dir (ls it from the restore pod, or use latest)" >&2; exit 1; }
if ! pg_restore --list "$dump" >/dev/null; then
  echo "restore: $choice cannot be read (pg_restore --list failed): nothing was changed" >&2
  exit 1
fi

others="$(psql --no-password -Atc "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")"
if [ "$others" != 0 ]; then
  echo "restore: $others other connections to $PGDATABASE: stop Plane first (README, \"Backups\"); nothing was changed" >&2
  exit 1
fi

# One transaction: a failed restore leaves the database as it was.
{
  echo 'DROP SCHEMA public CASCADE;'
  echo 'CREATE SCHEMA public AUTHORIZATION pg_database_owner;'
  echo 'GRANT USAGE ON SCHEMA public TO PUBLIC;'
  pg_restore --no-owner --no-acl --file=- "$dump"
} | psql --no-password --quiet --single-transaction --set=ON_ERROR_STOP=1 --output=/dev/null
echo "restore: $choice restored into $PGDATABASE"
