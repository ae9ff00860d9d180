#!/bin/sh
# Dumps Plane's database into the backup pod's scratch volume (first step of the backup; POSIX sh, runs in
# the postgres image, with the database password and nothing else).
#
#   One read-only REPEATABLE READ transaction exports its snapshot: pg_dump (custom format, uncompressed:
#   restic compresses and deduplicates it across backups) dumps that
#   snapshot, and the same transaction records what a restore must find again: every table of schema
#   public with its exact row count (tables.tsv) and the migration head (stamp): the latest applied
#   migration of Plane's app `db` (else of any app), and how many are applied. The
#   dump is checked with `pg_restore --list`; a dump that does not list completely fails the run.
#   Nothing here is written to the backup volume: the next step encrypts it there (snapshot.sh), and the
#   scratch volume goes with the pod.
#
# Environment: PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD (libpq); WORK_DIR; PLANE_VERSION.
set -eu
umask 077

out="${WORK_DIR:?}/postgres"
version="${PLANE_VERSION:?}"
mkdir -p "$out"
dump="$out/plane.dump"
rm -f "$dump" "$dump.partial"

# \setenv hands the snapshot to the shell that runs pg_dump; the transaction stays open meanwhile.
psql --no-password -X -q -At -F "$(printf '\t')" -v ON_ERROR_STOP=1 \
  -v tables="$out/tables.tsv" -v head="$out/migration" <<SQL
BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;
SELECT pg_export_snapshot() AS snapshot \gset
\setenv PGDUMP_SNAPSHOT :snapshot
\! pg_dump --format=custom --compress=0 --no-password --snapshot="\$PGDUMP_SNAPSHOT" --file="$dump.partial" "\$PGDATABASE" && mv "$dump.partial" "$dump"
\o :tables
SELECT format('SELECT %L, %L, count(*) FROM %I.%I', schemaname, tablename, schemaname, tablename)
  FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename \gexec
\o :head
SELECT CASE WHEN to_regclass('public.django_migrations') IS NULL THEN 'none' END AS no_migrations \gset
\if :{?no_migrations}
SELECT 'none', 0;
\else
SELECT app || '.' || name, (SELECT count(*) FROM public.django_migrations) FROM public.django_migrations ORDER BY app = 'db' DESC, id DESC LIMIT 1;
\endif
\o
COMMIT;
SQL

if [ ! -f "$dump" ]; then
  echo "backup: pg_dump of $PGDATABASE failed: no backup taken" >&2
  exit 1
fi
if ! entries="$(pg_restore --list "$dump" | grep -cv '^;')"; then
  echo "backup: the dump of $PGDATABASE cannot be read back (pg_restore --list failed): no backup taken" >&2
  rm -f "$dump"
  exit 1
fi
IFS="$(printf '\t')" read -r migration migrations <"$out/migration"
rm -f "$out/migration"
{
  echo "plane_version=$version"
  echo "migration=${migration:-none}"
  echo "migrations=${migrations:-0}"
  echo "tables=$(wc -l <"$out/tables.tsv" | tr -d ' ')"
  echo "dumped_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$out/stamp"
echo "backup: dumped $PGDATABASE, $(wc -c <"$dump" | tr -d ' ') bytes, $entries entries, $(wc -l <"$out/tables.tsv" | tr -d ' ') tables; Plane $version, migration ${migration:-none}"
