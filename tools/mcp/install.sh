#!/usr/bin/env bash
# Installs Plane's MCP server (PyPI plane-mcp-server) at the release pinned in lib/plane/mcp-server.ts
# into a virtualenv outside the repository, once, and prints the path of its `plane-mcp-server` command.
#
#   tools/mcp/install.sh            # the pinned release
#   tools/mcp/install.sh 0.2.10     # another release (to see how it fares against Plane v1.2.2)
#
# Cache: ${PLANE_K3S_CACHE:-$HOME/.cache/plane-k3s}/mcp/<version>/ (a venv, `.complete` when whole).
# A cached run installs nothing and touches no network. PyPI only (pip's ordinary index).
# PYTHON: the interpreter for the venv (default python3); it must satisfy the release's Requires-Python.
set -euo pipefail

log() { printf 'install-mcp: %s\n' "$*" >&2; }

PIN_FILE="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/lib/plane/mcp-server.ts"
# One quoted value of the pin's object literal: `  version: '0.2.9',` → 0.2.9.
pinned() { sed -nE "s/^[[:space:]]*$1:[[:space:]]*'([^']+)',?[[:space:]]*$/\1/p" "$PIN_FILE"; }

package="$(pinned package)"
command_name="$(pinned command)"
requires_python="$(pinned requiresPython)"
version="${1:-$(pinned version)}"
[[ -n "$package" && -n "$command_name" && -n "$version" ]] || { log "no package, command or version in $PIN_FILE"; exit 1; }
[[ "$version" =~ ^[0-9]+(\.[0-9]+)*$ ]] || { log "not a release number: $version (expected e.g. 0.2.9)"; exit 1; }
# Only the form the pin uses: >=X.Y.
[[ "$requires_python" =~ ^\>=([0-9]+)\.([0-9]+)$ ]] || { log "requiresPython in $PIN_FILE is not >=X.Y: $requires_python"; exit 1; }
min_major="${BASH_REMATCH[1]}"
min_minor="${BASH_REMATCH[2]}"

venv="${PLANE_K3S_CACHE:-$HOME/.cache/plane-k3s}/mcp/$version"
if [[ -f "$venv/.complete" && -x "$venv/bin/$command_name" ]]; then
  echo "$venv/bin/$command_name"
  exit 0
fi

python="${PYTHON:-python3}"
command -v "$python" >/dev/null || { log "$python not found: install Python $min_major.$min_minor or later, or set PYTHON"; exit 1; }
if ! "$python" -c "import sys; sys.exit(sys.version_info[:2] < ($min_major, $min_minor))"; then
  log "$package $version needs Python $requires_python; $python is $("$python" -c 'import platform; print(platform.python_version())'): set PYTHON"
  exit 1
fi

mkdir -p "$(dirname "$venv")"
# Two installers at once (parallel suites) would share one half-made venv: the second waits.
exec 9>"$venv.lock"
flock 9
if [[ -f "$venv/.complete" && -x "$venv/bin/$command_name" ]]; then
  echo "$venv/bin/$command_name"
  exit 0
fi

started=$SECONDS
log "installing $package $version with $("$python" -c 'import platform; print(platform.python_version())') (first run only)…"
rm -rf "$venv"
"$python" -m venv "$venv"
if ! "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input "$package==$version" >&2; then
  rm -rf "$venv"
  log "pip could not install $package==$version"
  exit 1
fi
[[ -x "$venv/bin/$command_name" ]] || { rm -rf "$venv"; log "$package $version has no $command_name command"; exit 1; }
touch "$venv/.complete"
log "installed $package $version in $((SECONDS - started)) s"
echo "$venv/bin/$command_name"
