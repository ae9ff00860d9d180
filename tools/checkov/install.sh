#!/usr/bin/env bash
# Installs checkov (PyPI) once into a virtualenv outside the repository, keyed by version.
# A cached run installs nothing. Prints the path of the checkov executable.
set -euo pipefail

version=3.3.30
venv="${PLANE_K3S_CACHE:-$HOME/.cache/plane-k3s}/checkov-$version"
if [[ ! -f "$venv/.complete" ]]; then
  started=$SECONDS
  echo "installing checkov $version (first run only)…" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$version" >&2; then
    rm -rf "$venv"
    exit 1
  fi
  touch "$venv/.complete"
  echo "installed checkov $version in $((SECONDS - started)) s" >&2
fi
echo "$venv/bin/checkov"
