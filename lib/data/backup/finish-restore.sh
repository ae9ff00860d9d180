#!/bin/sh
# The last step of the restore and of the drill (POSIX sh). The restore (runs in the rclone image, with
# the object store's keys only) copies the backup's uploads back into the bucket: after the database,
# so a refused or failed database restore leaves the uploads alone; `rclone copy` adds and replaces,
# never deletes. The drill (`finish-restore.sh drill`, in the restic image, no credential) records on
# the backup volume which snapshot it restored, for `plane-k3s backup list`.
#
# Environment: WORK_DIR; BACKUP_DIR (drill); RESTORE_BACKUP ("list" does nothing); the rclone remote
# "store" (restore).
set -eu

[ "${RESTORE_BACKUP:-latest}" = list ] && [ "${1:-}" != drill ] && exit 0
work="${WORK_DIR:?}"
snapshot="$(cat "$work/snapshot")"
if [ "${1:-}" = drill ]; then
  printf '%s\t%s\n' "$snapshot" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"${BACKUP_DIR:?}/drills.tsv"
  echo "drill: snapshot $snapshot passed, recorded in $BACKUP_DIR/drills.tsv"
  exit 0
fi
files="$(find "$work/uploads" -type f | wc -l | tr -d ' ')"
rclone copy "$work/uploads" "store:${UPLOADS_BUCKET:?}"
echo "restore: snapshot $snapshot's uploads copied back into bucket $UPLOADS_BUCKET ($files files)"
