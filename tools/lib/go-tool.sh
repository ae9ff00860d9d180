# shellcheck shell=bash
# Builds a Go program from the Go module proxy, once, into a cache outside the repository. Sourced by
# tools/caddy/install.sh and tools/coredns/install.sh, never executed.
#
#   cached_go_build NAME VERSION MODULE MAIN_GO VERSION_FLAG EXPECTED
#
# MAIN_GO is the main package (source text) of a throwaway module that requires MODULE at vVERSION:
# the module is then a dependency at exactly that version, as in its own release builds, and minimal
# version selection keeps its own dependency versions. The binary lands in
# ${PLANE_K3S_CACHE:-$HOME/.cache/plane-k3s}/NAME/VERSION/NAME; `NAME VERSION_FLAG` must print
# EXPECTED (a regex) or the build fails. A warm cache (binary and stamp present) prints the path at
# once. Module downloads and compiled packages stay in NAME's cache folder: one folder per tool for
# CI to keep, and deleting it gives a true cold build.

log() { printf '[%s] %s\n' "${TOOL_NAME:-go-tool}" "$*" >&2; }

# first_line_of COMMAND...: the first line COMMAND prints (stdout and stderr), or its exit status with
# that line logged when it fails. The whole output is read first: `COMMAND | head -n1` under pipefail
# fails as soon as COMMAND writes after head has exited (SIGPIPE, exit 141, no message at all), as
# CoreDNS's two-line -version did on a cold CI run.
first_line_of() {
  local out status=0
  out="$("$@" 2>&1)" || status=$?
  if (( status != 0 )); then
    log "$* exited with $status: ${out%%$'\n'*}"
    return "$status"
  fi
  printf '%s\n' "${out%%$'\n'*}"
}

cached_go_build() {
  local name=$1 version=$2 module=$3 main_go=$4 version_flag=$5 expected=$6
  local cache="${PLANE_K3S_CACHE:-$HOME/.cache/plane-k3s}/$name"
  local bin_dir="$cache/$version" bin="$cache/$version/$name"
  if [[ -x "$bin" && -f "$bin_dir/.complete" ]]; then
    log "cache hit: $bin"
    echo "$bin"
    return 0
  fi
  command -v go >/dev/null || { log "go is required to build $name"; return 1; }

  local tmp start
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/$name-build.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: $tmp is local
  trap "rm -rf '$tmp'" EXIT
  start=$(date +%s)
  log "cold build of $name v$version (go $(go env GOVERSION), -p $(nproc))"
  printf '%s\n' "$main_go" > "$tmp/main.go"
  (
    cd "$tmp" || exit 1
    export GOMODCACHE="$cache/gomod" GOCACHE="$cache/go-build" CGO_ENABLED=0
    export GOFLAGS="-trimpath -buildvcs=false"
    # Never download another toolchain: the module's go.mod states the minimum Go it needs.
    export GOTOOLCHAIN=local
    go mod init "plane.local/$name-build" >/dev/null 2>&1
    # Quiet when it works (it lists every module it adds); the log is shown when it does not.
    if ! { go get "$module@v$version" && go mod tidy; } >"$tmp/resolve.log" 2>&1; then
      cat "$tmp/resolve.log" >&2
      exit 1
    fi
    go build -ldflags "-s -w" -o "$tmp/$name" .
  )
  local reported
  reported="$(first_line_of "$tmp/$name" "$version_flag")" || return 1
  [[ "$reported" =~ $expected ]] || { log "built binary reports '$reported', expected $expected"; return 1; }

  mkdir -p "$bin_dir"
  mv -f "$tmp/$name" "$bin"
  # The stamp is written last: an interrupted build is never taken for a warm one.
  date -u +%FT%TZ > "$bin_dir/.complete"
  log "built $name v$version in $(( $(date +%s) - start ))s: $bin"
  echo "$bin"
}
