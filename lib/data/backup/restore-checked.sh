# shellcheck shell=sh
# Sourced by restore-postgres.sh and drill-postgres.sh (POSIX sh): restore_checked restores an unpacked
# dump into the database psql connects to and checks it against what the backup recorded
# (check-restored.sql: every table, its row count, the migration head), in one transaction that is
# committed only when all of it went through.
#
#   restore_checked WORK_DIR PREAMBLE_SQL [psql options…]
#
# A failed pg_restore (a truncated dump) stops the stream before the check and the COMMIT: psql then
# ends, the transaction is rolled back, and without psql's closing word the function fails. Never trust
# psql's exit status alone here: a stream that ends inside COPY data ends the COPY without an error.
restore_checked() {
  restore_work="$1" restore_preamble="$2"
  shift 2
  restore_done="$(
    {
      echo 'BEGIN;'
      printf '%s\n' "$restore_preamble"
      if pg_restore --no-owner --no-acl --file=- "$restore_work/postgres/plane.dump"; then
        echo 'CREATE TEMP TABLE backup_expected (schema_name text, table_name text, row_count bigint);'
        echo 'COPY pg_temp.backup_expected FROM STDIN;'
        cat "$restore_work/postgres/tables.tsv"
        printf '%s\n' '\.'
        cat "$(dirname "$0")/check-restored.sql"
        echo 'COMMIT;'
        printf '%s\n' '\echo restored'
      fi
    } | psql --no-password -X --quiet --set=ON_ERROR_STOP=1 \
      --set=expected_migration="$(sed -n 's/^migration=//p' "$restore_work/postgres/stamp")" --output=/dev/null "$@"
  )"
  [ "$restore_done" = restored ]
}
