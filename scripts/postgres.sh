#!/usr/bin/env bash
# Throw-away PostgreSQL cluster for development and CI, from Debian's postgresql package (no
# Docker), like scripts/kafka.sh for Kafka.
#
#   scripts/postgres.sh start    initdb a fresh cluster in a temp dir, start it on 127.0.0.1 (TCP
#                                only), wait until it accepts connections, then print
#                                VIGIL_DATABASE_URL=postgres://vigil@127.0.0.1:<port>/postgres
#   scripts/postgres.sh stop     fast shutdown, then remove the cluster's dir; idempotent
#   scripts/postgres.sh status   exit 0 when running, 3 when not
#   scripts/postgres.sh logs     tail of the server log
#
# Environment (all optional):
#   PG_PORT          TCP port (default: a free one, picked by the kernel)
#   PG_BIN           folder with initdb and pg_ctl (default: the newest /usr/lib/postgresql/*/bin)
#   PG_STATE_DIR     where the cluster of a port lives (default ${TMPDIR:-/tmp}/vigil-postgres-<port>)
#   PG_USER          unprivileged OS user that runs the server when this runs as root (default
#                    postgres): PostgreSQL refuses to run as root
#
# The cluster trusts local TCP logins (it listens on 127.0.0.1 only and lives as long as a test
# run) and runs with fsync off: its data is thrown away, speed matters more than durability.
set -euo pipefail

say() { echo "postgres.sh: $*" >&2; }
die() {
  say "$*"
  exit 1
}

find_bin() {
  if [[ -n ${PG_BIN:-} ]]; then
    echo "$PG_BIN"
    return
  fi
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n $newest ]] || die "no /usr/lib/postgresql/<version>/bin: install Debian's postgresql package"
  echo "$newest"
}

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

state_dir() { echo "${PG_STATE_DIR:-${TMPDIR:-/tmp}/vigil-postgres-$1}"; }

# Runs a command as the unprivileged user when root, as is otherwise.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    local user=${PG_USER:-postgres}
    id "$user" >/dev/null 2>&1 || die "running as root needs an unprivileged user $user"
    runuser -u "$user" -- "$@"
  else
    "$@"
  fi
}

cmd_start() {
  local bin port dir
  bin=$(find_bin)
  port=${PG_PORT:-$(free_port)}
  dir=$(state_dir "$port")
  if [[ -f $dir/data/postmaster.pid ]] && as_owner "$bin/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; then
    die "a cluster already runs on port $port ($dir); stop it first"
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  [[ $(id -u) -eq 0 ]] && chown "${PG_USER:-postgres}" "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U vigil -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  as_owner "$bin/pg_ctl" start -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    >/dev/null || { tail -n 30 "$dir/server.log" >&2; die "the server did not start"; }
  echo "VIGIL_DATABASE_URL=postgres://vigil@127.0.0.1:$port/postgres"
  echo "PG_PORT=$port"
}

cmd_stop() {
  local port=${PG_PORT:?PG_PORT names the cluster to stop}
  local dir bin
  dir=$(state_dir "$port")
  [[ -d $dir ]] || return 0
  bin=$(find_bin)
  if [[ -f $dir/data/postmaster.pid ]]; then
    as_owner "$bin/pg_ctl" stop -D "$dir/data" -m fast -w -t 30 >/dev/null 2>&1 ||
      as_owner "$bin/pg_ctl" stop -D "$dir/data" -m immediate -w >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

cmd_status() {
  local port=${PG_PORT:?PG_PORT names the cluster}
  local dir
  dir=$(state_dir "$port")
  [[ -f $dir/data/postmaster.pid ]] && as_owner "$(find_bin)/pg_ctl" status -D "$dir/data" >/dev/null 2>&1 && return 0
  return 3
}

cmd_logs() {
  local port=${PG_PORT:?PG_PORT names the cluster}
  tail -n "${LINES:-50}" "$(state_dir "$port")/server.log"
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  logs) cmd_logs ;;
  *) die "usage: $0 start|stop|status|logs" ;;
esac
