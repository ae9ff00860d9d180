#!/bin/sh
# Takes one backup out of the encrypted repository into the pod's scratch volume (first step of the
# restore and of the drill; POSIX sh, runs in the restic image, with the repository key only).
#
#   RESTORE_BACKUP names a snapshot (its id, as `plane-k3s backup list` shows it) or "latest"; "list"
#   prints the snapshots (restic's JSON: times, tags, sizes, no data) and the drills that restored them,
#   and changes nothing. The drill (`unpack.sh drill`) first checks the repository's structure and a
#   tenth of its data (`restic check`): a tampered or damaged repository fails it. An upgrade rehearsal
#   (`unpack.sh rehearse`) unpacks RESTORE_BACKUP as the restore does. Restic authenticates every piece it
#   restores, so a tampered backup is never unpacked.
#
# Environment: RESTIC_REPOSITORY, RESTIC_PASSWORD, RESTIC_CACHE_DIR; WORK_DIR; BACKUP_DIR; RESTORE_BACKUP.
set -eu
umask 077

work="${WORK_DIR:?}"
drills="${BACKUP_DIR:?}/drills.tsv"
choice="${RESTORE_BACKUP:-latest}"
prefix=restore
[ "${1:-}" = drill ] && { prefix=drill; choice=latest; }
[ "${1:-}" = rehearse ] && prefix=rehearsal

if [ "$choice" = list ] && [ "$prefix" = restore ]; then
  snapshots="$(restic snapshots --retry-lock 30m --json --host plane --tag plane-k3s)"
  echo "restore: snapshots $snapshots"
  [ -f "$drills" ] && sed 's/^/restore: drilled /' "$drills"
  exit 0
fi
case "$choice" in
  latest) ;;
  *[!0-9a-f]*|'') echo "restore: RESTORE_BACKUP must be a snapshot id (plane-k3s backup list) or latest, not '$choice'" >&2; exit 1 ;;
esac
if [ "$prefix" = drill ]; then
  restic check --retry-lock 30m --quiet --read-data-subset=10%
fi
id="$(restic snapshots --retry-lock 30m --json --host plane --tag plane-k3s "$choice" | sed -n 's/.*"short_id":"\([0-9a-f]*\)".*/\1/p')"
[ -n "$id" ] || { echo "$prefix: no backup $choice in $RESTIC_REPOSITORY (plane-k3s backup list)" >&2; exit 1; }
restic restore --retry-lock 30m --quiet "$id" --target "$work"
echo "$id" >"$work/snapshot"
echo "$prefix: unpacked snapshot $id ($(sed -n 's/^plane_version=//p' "$work/postgres/stamp"), dumped $(sed -n 's/^dumped_at=//p' "$work/postgres/stamp"))"
