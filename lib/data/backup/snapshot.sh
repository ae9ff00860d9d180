#!/bin/sh
# Encrypts the backup into the restic repository on the backup volume (last step of the backup; POSIX sh,
# runs in the restic image, with the repository key and, with an off-site target, its S3 keys only).
#
#   One restic snapshot holds the dump, its stamp and the copy of the uploads, tagged with the Plane
#   version and the migration head; the repository is made on the first run. Retention is by count
#   (`forget --keep-last`), then `prune`. With an off-site repository, the new snapshots are copied there
#   (`restic copy`: it only adds) and that repository keeps its own, longer history, so a deletion here
#   never deletes history there. The unencrypted dumps an earlier version of this stack left on the
#   volume are removed once the encrypted snapshot exists.
#
# Environment: RESTIC_REPOSITORY, RESTIC_PASSWORD, RESTIC_CACHE_DIR; WORK_DIR; BACKUP_DIR; BACKUP_KEEP;
# optional OFFSITE_REPOSITORY (+ AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
set -eu
umask 077

work="${WORK_DIR:?}"
keep="${BACKUP_KEEP:?}"
stamp="$work/postgres/stamp"
if [ ! -f "$stamp" ] || [ ! -f "$work/postgres/plane.dump" ]; then
  echo "backup: no dump in $work (the dump step failed?)" >&2
  exit 1
fi
value() { sed -n "s/^$1=//p" "$stamp"; }
version="$(value plane_version)"
migration="$(value migration)"
mkdir -p "$work/uploads"

if [ ! -f "${RESTIC_REPOSITORY:?}/config" ]; then
  restic init --quiet
  echo "backup: made the encrypted repository $RESTIC_REPOSITORY (keep a copy of its key off this server: docs/configuration.md \"Backups\")"
fi
# Relative paths: the snapshot holds postgres/ and uploads/ at its root, wherever the scratch space is.
summary="$(cd "$work" && restic backup --retry-lock 30m --json --quiet --host plane --tag plane-k3s \
  --tag "plane-version=$version" --tag "migration=$migration" postgres uploads | tail -n 1)"
id="$(printf '%s' "$summary" | sed -n 's/.*"snapshot_id":"\([0-9a-f]\{8\}\).*/\1/p')"
bytes="$(printf '%s' "$summary" | sed -n 's/.*"total_bytes_processed":\([0-9]*\).*/\1/p')"
[ -n "$id" ] || { echo "backup: restic made no snapshot: $summary" >&2; exit 1; }
restic forget --retry-lock 30m --quiet --host plane --tag plane-k3s --group-by '' --keep-last "$keep" --prune >/dev/null
kept="$(restic snapshots --json --host plane --tag plane-k3s | grep -o '"short_id"' | wc -l | tr -d ' ')"
echo "backup: snapshot $id, Plane $version, migration $migration, $bytes bytes; $kept snapshots kept (at most $keep)"

for legacy in "${BACKUP_DIR:?}/postgres" "$BACKUP_DIR/uploads"; do
  if [ -d "$legacy" ]; then
    rm -rf "$legacy"
    echo "backup: removed $legacy, unencrypted files of an earlier version (snapshot $id holds the data now)"
  fi
done

if [ -n "${OFFSITE_REPOSITORY:-}" ]; then
  export RESTIC_FROM_REPOSITORY="$RESTIC_REPOSITORY" RESTIC_FROM_PASSWORD="$RESTIC_PASSWORD"
  if ! restic -r "$OFFSITE_REPOSITORY" cat config >/dev/null 2>&1; then
    restic -r "$OFFSITE_REPOSITORY" init --quiet --copy-chunker-params
  fi
  restic -r "$OFFSITE_REPOSITORY" copy --retry-lock 30m --quiet --host plane --tag plane-k3s
  # Off-site history is longer than the local one, and by age: a daily backup for BACKUP_KEEP days,
  # then one a week for 3 months and one a month for a year.
  restic -r "$OFFSITE_REPOSITORY" forget --retry-lock 30m --quiet --host plane --tag plane-k3s --group-by '' \
    --keep-daily "$keep" --keep-weekly 13 --keep-monthly 12 --prune >/dev/null
  echo "backup: copied to the off-site repository $OFFSITE_REPOSITORY"
fi
