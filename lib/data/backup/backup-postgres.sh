#!/bin/sh
# Dumps Plane's database (the backup CronJob's first step; POSIX sh, runs in the postgres image).
#
#   pg_dump in custom format, then `pg_restore --list` on it: a dump that does not list completely is
#   deleted and the run fails, so a kept dump is a readable dump; pg_dumpall --globals-only beside it
#   (roles, without passwords: the password is the stack's Secret). Files are written under a
#   temporary name and renamed when complete; the newest BACKUP_KEEP dumps are kept.
#
# Environment: PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD (libpq); BACKUP_DIR; BACKUP_KEEP.
set -eu

dir="${BACKUP_DIR:?}/postgres"
keep="${BACKUP_KEEP:?}"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
dump="$dir/plane-$stamp.dump"
globals="$dir/globals-$stamp.sql"
mkdir -p "$dir"
trap 'rm -f "$dump.partial" "$globals.partial"' EXIT

pg_dump --format=custom --no-password --file="$dump.partial" "$PGDATABASE"
if ! entries="$(pg_restore --list "$dump.partial" | grep -cv '^;')"; then
  echo "backup: the dump of $PGDATABASE cannot be read back (pg_restore --list failed): not kept" >&2
  exit 1
fi
pg_dumpall --globals-only --no-role-passwords --no-password --file="$globals.partial"
mv "$globals.partial" "$globals"
mv "$dump.partial" "$dump"

# Retention: the newest $keep dumps (their names sort by time) and their globals.
printf '%s\n' "$dir"/plane-*.dump | sort -r | tail -n "+$((keep + 1))" | while read -r old; do
  stamp_of_old="$(basename "$old" .dump)"
  rm -f "$old" "$dir/globals-${stamp_of_old#plane-}.sql"
done
set -- "$dir"/plane-*.dump
echo "backup: $(basename "$dump"), $(wc -c <"$dump") bytes, $entries entries; $# dumps kept (at most $keep)"
