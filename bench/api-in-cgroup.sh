#!/usr/bin/env bash
# Runs Plane's api for `npm run bench:agents` as the stack runs it: gunicorn with the stack's workers and
# rate limit, in a cgroup at the api container's CPU and memory limits (all read from the synth:
# build/bench/load/stack-api.js), on a port of 127.0.0.1. Needs root (it makes the cgroup), a Plane
# v1.2.2 api checkout with its virtualenv, and the backend's environment (database, cache, broker,
# SECRET_KEY...) as Plane's api reads it, exported by the caller.
#
#   bench/api-in-cgroup.sh start <name> <port> [<rate limit>]   e.g. start plane-bench 58100 100000/minute
#   bench/api-in-cgroup.sh stop <name>
#
# start: PLANE_SRC (apps/api of the checkout) and PLANE_VENV must be set; the log is /tmp/<name>.log.
# It prints the --cgroup options that give the bench the api's memory and CPU. <rate limit> replaces
# the stack's API_KEY_RATE_LIMIT (a run "with the limit lifted"). cgroup v1 (cpu, cpuacct, memory
# hierarchies) or v2 (the unified hierarchy with the cpu and memory controllers).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  sed -n '8,9p' "$0" >&2
  exit 2
}
[ $# -ge 2 ] || usage
action=$1
name=$2
[[ $name =~ ^[a-z0-9][a-z0-9-]*$ ]] || { echo "api-in-cgroup: name $name: expected lower-case letters, digits and dashes" >&2; exit 2; }
root=/sys/fs/cgroup
if [ -d "$root/memory" ] && [ -d "$root/cpu" ]; then
  dirs=("$root/cpu/$name" "$root/cpuacct/$name" "$root/memory/$name")
  [ -d "$root/cpuacct" ] || dirs=("$root/cpu/$name" "$root/memory/$name")
  version=1
else
  dirs=("$root/$name")
  version=2
fi
pidfile=/tmp/$name.pid

if [ "$action" = stop ]; then
  # gunicorn removes its pid file as it exits: read it once.
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  fi
  rm -f "$pidfile"
  for dir in "${dirs[@]}"; do
    [ -d "$dir" ] || continue
    for _ in $(seq 10); do [ -s "$dir/cgroup.procs" ] || break; sleep 1; done
    rmdir "$dir"
  done
  echo "api-in-cgroup: $name stopped, its cgroup removed"
  exit 0
fi

if [ "$action" != start ] || [ $# -lt 3 ]; then usage; fi
port=$3
[[ $port =~ ^[0-9]+$ ]] || { echo "api-in-cgroup: port $port: expected a number" >&2; exit 2; }
: "${PLANE_SRC:?set PLANE_SRC to the apps/api folder of a Plane v1.2.2 checkout}" "${PLANE_VENV:?set PLANE_VENV to its virtualenv}"
[ -f "$PLANE_SRC/manage.py" ] || { echo "api-in-cgroup: PLANE_SRC=$PLANE_SRC holds no manage.py" >&2; exit 2; }
[ ! -f "$pidfile" ] || ! kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "api-in-cgroup: $name already runs (pid $(cat "$pidfile"))" >&2; exit 1; }

node scripts/build.mjs --with-tests
# The stack's values, as assignments (API_CPU_QUOTA_US, API_CPU_PERIOD_US, API_MEMORY_BYTES, GUNICORN_WORKERS, API_KEY_RATE_LIMIT).
eval "$(node build/bench/load/stack-api.js)"
export GUNICORN_WORKERS API_KEY_RATE_LIMIT="${4:-$API_KEY_RATE_LIMIT}"

for dir in "${dirs[@]}"; do mkdir -p "$dir"; done
# The weight: one process's default per worker. The cgroup competes with every other process of the
# machine as one, so at the default weight its workers would get, together, the CPU of one process.
if [ $version = 1 ]; then
  echo "$API_CPU_PERIOD_US" >"$root/cpu/$name/cpu.cfs_period_us"
  echo "$API_CPU_QUOTA_US" >"$root/cpu/$name/cpu.cfs_quota_us"
  echo $((1024 * GUNICORN_WORKERS)) >"$root/cpu/$name/cpu.shares"
  echo "$API_MEMORY_BYTES" >"$root/memory/$name/memory.limit_in_bytes"
else
  echo "$API_CPU_QUOTA_US $API_CPU_PERIOD_US" >"$root/$name/cpu.max"
  echo $((100 * GUNICORN_WORKERS)) >"$root/$name/cpu.weight"
  echo "$API_MEMORY_BYTES" >"$root/$name/memory.max"
fi

# The shell joins the cgroup first, so gunicorn and every worker it forks are in it from the start.
# The command is the image's (bin/docker-entrypoint-api.sh), bound to loopback; the inner shell expands it.
cd "$PLANE_SRC"
export PLANE_VENV PORT=$port PIDFILE=$pidfile
# shellcheck disable=SC2016
setsid nohup sh -c 'for dir in "$@"; do echo $$ >"$dir/cgroup.procs"; done
  exec "$PLANE_VENV/bin/gunicorn" -w "$GUNICORN_WORKERS" -k uvicorn.workers.UvicornWorker plane.asgi:application \
    --bind "127.0.0.1:$PORT" --max-requests 1200 --max-requests-jitter 1000 --access-logfile - --pid "$PIDFILE"' \
  sh "${dirs[@]}" >"/tmp/$name.log" 2>&1 </dev/null &
for _ in $(seq 60); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
  sleep 1
done
curl -fsS -o /dev/null "http://127.0.0.1:$port/" || { echo "api-in-cgroup: the api did not answer on port $port within 60 s (log /tmp/$name.log)" >&2; exit 1; }
echo "api-in-cgroup: $name on http://127.0.0.1:$port (pid $(cat "$pidfile")): $GUNICORN_WORKERS workers, API_KEY_RATE_LIMIT $API_KEY_RATE_LIMIT, cgroup v$version at $API_CPU_QUOTA_US/$API_CPU_PERIOD_US CPU and $API_MEMORY_BYTES bytes"
printf 'bench options: '
printf -- '--cgroup %s ' "${dirs[@]}"
echo
