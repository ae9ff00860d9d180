#!/usr/bin/env bash
# Builds the Go tools the tests use, once, into a cache outside the repository, keyed by version:
#   ${PLANE_K3S_CACHE:-$HOME/.cache/plane-k3s}/go-tools/bin/<tool>-<version>
# Each tool has a folder here with its go.mod/go.sum (committed, so builds are reproducible).
# A cached run builds nothing. Prints the bin folder. With tool names as arguments (install.sh polaris),
# builds only those.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cache="${PLANE_K3S_CACHE:-$HOME/.cache/plane-k3s}/go-tools"
bin="$cache/bin"
mkdir -p "$bin"
export GOMODCACHE="$cache/gomod" GOCACHE="$cache/go-build" GOFLAGS=-mod=mod CGO_ENABLED=0
# The checksum database does not answer for np-guard's modules here; go.sum pins their hashes instead.
export GONOSUMDB=github.com/np-guard

# tool folder : main package : version (must match the folder's go.mod)
tools=(
  "netpolicy:github.com/np-guard/netpol-analyzer/cmd/netpolicy:v1.4.4"
  "kubeconform:github.com/yannh/kubeconform/cmd/kubeconform:v0.7.0"
  # The backups' encryption (test:postgres): the same release as images.restic.
  "restic:github.com/restic/restic/cmd/restic:v0.18.1"
  # The backups' copy of the uploads, and an S3 server (`rclone serve s3`) for the store and the off-site
  # copy in test:postgres: the same release as images.rclone.
  "rclone:github.com/rclone/rclone:v1.71.2"
  # The Polaris audit of dist/ (test/cluster/polaris.test.ts). Its release tags ("10.1.7") are not Go
  # versions, so the module proxy knows it by commit: this is the commit of release 10.1.7, the newest
  # release it serves.
  "polaris:github.com/fairwindsops/polaris:v0.0.0-20260401181752-47c7deddfd66"
)
# What `<tool> version` prints where the module's main package takes it from the linker (-X).
declare -A stamps=(
  [polaris]="-X main.Version=10.1.7 -X main.Commit=47c7deddfd66"
)

for entry in "${tools[@]}"; do
  IFS=: read -r name package version <<<"$entry"
  if (( $# > 0 )) && [[ " $* " != *" $name "* ]]; then continue; fi
  target="$bin/$name-$version"
  [[ -x "$target" ]] && continue
  grep -q " $version\$" "$here/$name/go.mod" || { echo "$here/$name/go.mod does not require $version" >&2; exit 1; }
  started=$SECONDS
  echo "building $name $version (first run only)…" >&2
  go -C "$here/$name" build -trimpath -ldflags="-s -w ${stamps[$name]:-}" -o "$target.tmp" "$package"
  mv "$target.tmp" "$target"
  echo "built $name $version in $((SECONDS - started)) s" >&2
done
echo "$bin"
