# shellcheck shell=bash
# A throwaway PostgreSQL server for a test or a benchmark (sourced, not
# run): Debian's postgresql, initdb'd into a temporary directory and
# started on a free port of 127.0.0.1, its socket in that directory. The
# PostgreSQL store of summit connects to a server it never runs itself
# (DESIGN §11); tests and `make bench` bring their own. tests/integration/
# lib.sh sources this file (and stops the server in its exit cleanup);
# bench/pg.sh sources it on its own.
#
#   PG_ROOT=DIR                 where the server lives (default $T/pg); an
#                               assignment of its own, not a prefix of
#                               pg_start (the other helpers read it too)
#   pg_start [NAME=VALUE]...    initdb the first time, then start; each
#                               NAME=VALUE is a server setting (-c); exports
#                               PG_URL (role summit, database summit, the
#                               owner of both: no superuser), PG_ADMIN_URL
#                               (the superuser postgres), PG_PORT, PG_DATA
#   pg_stop                     fast shutdown: sessions ended, checkpoint
#   pg_crash                    immediate shutdown: no checkpoint, the next
#                               pg_start runs crash recovery (a power cut,
#                               as far as clients can tell)
#   pg_restart [SECONDS]        pg_stop, a pause, pg_start on the same port
#   pg_sql [--admin] SQL        runs SQL with psql, rows as "a|b" lines
#   pg_reset_db                 database summit dropped and made anew, empty
#   pg_password PASSWORD        summit must log in with PASSWORD over TCP
#   pg_running                  whether the postmaster is alive
#   pg_cleanup                  immediate stop of whatever is still running
#
# The server refuses to run as root: as root (CI) every server command runs
# as the Debian user postgres (runuser), which must be able to reach
# PG_ROOT. The binaries are found under /usr/lib/postgresql/*/bin (the
# newest version there), or PG_BIN. Callers define die MESSAGE.

# pg_bindir: the directory of initdb/pg_ctl/psql (PG_BIN when set).
pg_bindir() {
  if [[ -n ${PG_BIN:-} ]]; then
    echo "$PG_BIN"
    return
  fi
  local d
  d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null |
    sort -V | tail -n 1)
  [[ -n $d && -x $d/pg_ctl ]] ||
    die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (make deps installs Debian's postgresql; or set PG_BIN)"
  echo "$d"
}

# free_port: a TCP port of 127.0.0.1 that nothing listens on now.
free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# _pg_as CMD...: CMD as the user that owns the server (postgres when root).
_pg_as() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# _pg_init: the data directory, once: trust on loopback and the socket
# only, a superuser postgres, and a role summit owning database summit.
_pg_init() {
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 ||
      die "running as root, and there is no user postgres to run the server as (make deps installs Debian's postgresql)"
    # The root-owned directories on the way must let postgres through.
    chmod o+x "$(dirname "$PG_ROOT")"
    mkdir -p "$PG_ROOT"
    chown postgres: "$PG_ROOT"
    runuser -u postgres -- test -w "$PG_ROOT" ||
      die "user postgres cannot write $PG_ROOT (a parent directory closed to it? set TMPDIR)"
  else
    mkdir -p "$PG_ROOT"
  fi
  chmod 700 "$PG_ROOT"
  _pg_as "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 \
    --locale=C --no-sync >"$PG_ROOT/initdb.log" 2>&1 || {
    cat "$PG_ROOT/initdb.log" >&2
    die "initdb failed (above)"
  }
}

# _pg_up: pg_ctl start on $PG_PORT with the saved settings; 0 when it
# accepts connections.
_pg_up() {
  local opts="-p $PG_PORT -k $PG_ROOT -c listen_addresses=127.0.0.1" s
  for s in "${PG_SETTINGS[@]}"; do opts+=" -c $s"; done
  _pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_ROOT/server.log" -w -t 60 \
    -o "$opts" start >>"$PG_ROOT/pg_ctl.log" 2>&1
}

# shellcheck disable=SC2120  # the settings are optional
pg_start() {
  PG_ROOT=${PG_ROOT:-$T/pg}
  PG_DATA=$PG_ROOT/data
  PG_BIN=$(pg_bindir) || exit 1
  local first=
  if [[ ! -d $PG_DATA ]]; then
    first=1
    local s
    for s in "$@"; do
      [[ $s == *=* && $s != *' '* ]] || die "pg_start: '$s' is not a NAME=VALUE setting"
    done
    PG_SETTINGS=("$@")
    _PG_ALL+=("$PG_DATA $PG_BIN")
    _pg_init
    PG_PORT=$(free_port)
  elif [[ $# -gt 0 ]]; then
    die "pg_start: settings are given at the first start only"
  fi
  # The port was free a moment ago; another process may take it first. A
  # restart keeps its port (clients hold the URL), so it is not retried.
  local tries=0
  until _pg_up; do
    tries=$((tries + 1))
    if [[ -z $first ]] || ((tries >= 3)) ||
      ! grep -q "could not bind" "$PG_ROOT/server.log"; then
      tail -n 20 "$PG_ROOT/server.log" "$PG_ROOT/pg_ctl.log" >&2 2>/dev/null
      die "the PostgreSQL server in $PG_ROOT did not start (logs above)"
    fi
    PG_PORT=$(free_port)
  done
  export PG_PORT PG_DATA
  export PG_URL=postgresql://summit@127.0.0.1:$PG_PORT/summit
  export PG_ADMIN_URL=postgresql://postgres@127.0.0.1:$PG_PORT/summit
  if [[ ! -e $PG_ROOT/.created ]]; then
    if ! pg_sql --admin-db postgres "CREATE ROLE summit LOGIN" >/dev/null ||
      ! pg_sql --admin-db postgres "CREATE DATABASE summit OWNER summit" >/dev/null; then
      die "could not create the role and database summit"
    fi
    : >"$PG_ROOT/.created"
  fi
}

# _pg_postmaster: the postmaster's pid ("" when no postmaster.pid).
_pg_postmaster() {
  head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true
}

pg_running() {
  local pid
  pid=$(_pg_postmaster)
  [[ -n $pid ]] && _pg_alive "$pid"
}

# _pg_alive PID: PID is a process that is not a zombie.
_pg_alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z ]]
}

# _pg_down MODE: pg_ctl stop -m MODE, then wait until the postmaster has
# exited (pg_ctl returns when postmaster.pid is gone, a moment before).
_pg_down() {
  [[ -n ${PG_DATA:-} ]] || die "pg_$1: no server (pg_start first)"
  local pid
  pid=$(_pg_postmaster)
  _pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m "$1" -w -t 60 stop \
    >>"$PG_ROOT/pg_ctl.log" 2>&1 || {
    tail -n 20 "$PG_ROOT/pg_ctl.log" >&2
    die "pg_ctl -m $1 stop failed (above)"
  }
  local deadline=$((SECONDS + 30))
  while [[ -n $pid ]] && _pg_alive "$pid"; do
    ((SECONDS <= deadline)) || die "postmaster $pid still runs after pg_ctl stop"
    sleep 0.02
  done
}

pg_stop() { _pg_down fast; }
pg_crash() { _pg_down immediate; }

pg_restart() {
  pg_stop
  [[ -z ${1:-} ]] || sleep "$1"
  # shellcheck disable=SC2119  # a restart takes no settings
  pg_start
}

# pg_sql [--admin | --admin-db DB] SQL: one psql -c (no psqlrc, stop at
# the first error), unaligned rows "a|b", no header; psql's exit code.
pg_sql() {
  local url=${PG_URL:-}
  case ${1:-} in
    --admin) url=$PG_ADMIN_URL; shift ;;
    --admin-db) url=postgresql://postgres@127.0.0.1:$PG_PORT/$2; shift 2 ;;
  esac
  [[ -n $url ]] || die "pg_sql: no server (pg_start first)"
  local pw=()
  [[ -z ${PG_PASSWORD:-} ]] || pw=(PGPASSWORD="$PG_PASSWORD")
  env "${pw[@]}" PGCONNECT_TIMEOUT=10 "$PG_BIN/psql" -X -w -q -A -t \
    -v ON_ERROR_STOP=1 -d "$url" -c "$1"
}

# pg_password PASSWORD: from now on the role summit must give PASSWORD
# (scram-sha-256) over TCP, as on a real server; postgres stays trusted
# (the helpers' own connections). Exports PG_PASSWORD, which pg_sql passes
# on; PG_URL stays without it (DESIGN §11: never a password in the URL).
pg_password() {
  [[ -n ${PG_DATA:-} ]] || die "pg_password: no server (pg_start first)"
  pg_sql --admin "ALTER ROLE summit PASSWORD '${1//\'/\'\'}'" >/dev/null ||
    die "pg_password: ALTER ROLE failed"
  printf '%s\n' "local all all trust" "host all postgres 127.0.0.1/32 trust" \
    "host all all 127.0.0.1/32 scram-sha-256" |
    _pg_as tee "$PG_DATA/pg_hba.conf" >/dev/null
  _pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" reload >>"$PG_ROOT/pg_ctl.log" 2>&1 ||
    die "pg_password: pg_ctl reload failed"
  # A reload is a signal: wait until a connection without it is refused.
  local deadline=$((SECONDS + 30))
  while PG_PASSWORD='' pg_sql "SELECT 1" >/dev/null 2>&1; do
    ((SECONDS <= deadline)) || die "pg_password: the server still lets summit in without a password"
    sleep 0.05
  done
  export PG_PASSWORD=$1
}

# pg_reset_db: an empty database summit again (its sessions are ended).
pg_reset_db() {
  pg_sql --admin-db postgres "DROP DATABASE summit WITH (FORCE)" >/dev/null &&
    pg_sql --admin-db postgres "CREATE DATABASE summit OWNER summit" >/dev/null
}

# pg_cleanup: an immediate stop of every server pg_start made that is
# still running (a test may have several: PG_ROOT set anew), then SIGKILL
# for a postmaster that still did not go (its backends leave with it).
_PG_ALL=()
pg_cleanup() {
  local entry data bin pid
  for entry in "${_PG_ALL[@]}"; do
    read -r data bin <<<"$entry"
    pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null) || continue
    if [[ ! $pid =~ ^[0-9]+$ ]] || ! _pg_alive "$pid"; then continue; fi
    _pg_as "$bin/pg_ctl" -D "$data" -m immediate -w -t 10 stop >/dev/null 2>&1
    for _ in {1..100}; do
      _pg_alive "$pid" || break
      sleep 0.02
    done
    _pg_alive "$pid" && kill -9 "$pid" 2>/dev/null
  done
  return 0
}
