#!/usr/bin/env bash
# The PostgreSQL helpers of lib_pg.sh, which the tests of the PostgreSQL
# store stand on: pg_start gives a server of the test's own (a role summit
# that is no superuser, loopback only, synchronous_commit on), pg_restart
# keeps the port and the data, pg_crash loses what was not committed and
# nothing that was, pg_stop leaves no process, pg_password makes summit log
# in with a password (from a PGPASSFILE of mode 0600, as docs/team.md
# says; libpq ignores one its group can read); and a test that fails or
# is stopped early leaves no server running either (lib.sh's cleanup).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

# procs_of DIR: how many processes have DIR in their command line (a
# postmaster names its data directory: -D DIR).
procs_of() { pgrep -c -f -- "$1" || true; }

say "pg_start: a server of the test's own"
pg_start
[[ $PG_URL =~ ^postgresql://summit@127\.0\.0\.1:[0-9]+/summit$ ]] ||
  die "PG_URL is not postgresql://summit@127.0.0.1:PORT/summit: '$PG_URL'"
ok "PG_URL: $PG_URL"
eq "$PG_URL" "postgresql://summit@127.0.0.1:$PG_PORT/summit" "PG_URL names PG_PORT"
eq "$(pg_sql 'SELECT current_user, current_database()')" "summit|summit" \
  "psql connects to PG_URL as summit, to database summit"
eq "$(pg_sql "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")" "f" \
  "the role summit is no superuser"
eq "$(pg_sql --admin 'SELECT rolsuper FROM pg_roles WHERE rolname = current_user')" "t" \
  "PG_ADMIN_URL is the superuser"
eq "$(pg_sql 'SHOW listen_addresses')" "127.0.0.1" "the server listens on loopback only"
eq "$(pg_sql 'SHOW synchronous_commit')" "on" "synchronous_commit is on (the default)"
[[ -S $PG_ROOT/.s.PGSQL.$PG_PORT ]] || die "no socket $PG_ROOT/.s.PGSQL.$PG_PORT"
ok "the socket is in the test's directory"
PID1=$(_pg_postmaster)
if [[ $(id -u) -eq 0 ]]; then
  eq "$(ps -o user= -p "$PID1" | tr -d ' ')" "postgres" "as root, the server runs as postgres"
fi
pg_sql "CREATE TABLE t(v text)"
pg_sql "INSERT INTO t VALUES ('before restart')"

say "pg_restart: same port, same data, a new postmaster"
PORT1=$PG_PORT
pg_restart 0.2
eq "$PG_PORT" "$PORT1" "the port is kept"
[[ $(_pg_postmaster) != "$PID1" ]] || die "pg_restart kept postmaster $PID1"
_pg_alive "$PID1" && die "the old postmaster $PID1 still runs"
ok "a new postmaster, the old one gone"
eq "$(pg_sql 'SELECT v FROM t')" "before restart" "the committed row survives the restart"

say "pg_crash: committed rows stay, an open transaction is lost"
pg_sql "INSERT INTO t VALUES ('committed')"
# A session holding an uncommitted row when the server goes down.
mkfifo "$T/hold"
"$PG_BIN/psql" -X -q -d "$PG_URL" -c "BEGIN" -c "INSERT INTO t VALUES ('uncommitted')" \
  -c "SELECT pg_sleep(60)" >"$T/hold.out" 2>&1 &
HOLD=$!
BG_PIDS+=("$HOLD")
sleeping() { [[ $(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'") == 1 ]]; }
wait_until 20 "the session with the uncommitted row" sleeping
PID2=$(_pg_postmaster)
pg_crash
pg_running && die "the postmaster runs after pg_crash"
_pg_alive "$PID2" && die "postmaster $PID2 survived pg_crash"
ok "pg_crash: the postmaster is gone"
wait "$HOLD" 2>/dev/null || true
has "$T/hold.out" "terminat" "the open session was cut off"
if pg_sql "SELECT 1" >"$T/down.out" 2>&1; then die "psql connected to a crashed server"; fi
ok "no connection while it is down"
pg_start
has "$PG_ROOT/server.log" "not properly shut down" "pg_start after pg_crash ran crash recovery"
eq "$(pg_sql 'SELECT string_agg(v, $$,$$ ORDER BY v) FROM t')" "before restart,committed" \
  "after the crash: the committed rows, not the uncommitted one"

say "pg_stop: nothing left"
DATA=$PG_DATA
pg_stop
pg_running && die "the postmaster runs after pg_stop"
eq "$(procs_of "$DATA")" "0" "no process names the data directory"
if pg_sql "SELECT 1" >/dev/null 2>&1; then die "psql connected after pg_stop"; fi
ok "no connection after pg_stop"

say "settings at the first start; bad ones refused"
PG_ROOT=$T/pg2
pg_start fsync=off "work_mem=8MB"
eq "$(pg_sql 'SHOW fsync')" "off" "a NAME=VALUE given to pg_start is a server setting"
pg_restart
eq "$(pg_sql 'SHOW work_mem')" "8MB" "settings are kept across a restart"
pg_sql "CREATE TABLE gone(v int)"
pg_reset_db
eq "$(pg_sql "SELECT count(*) FROM pg_tables WHERE tablename = 'gone'")" "0" \
  "pg_reset_db: database summit is empty again"
eq "$(pg_sql 'SELECT current_user, current_database()')" "summit|summit" \
  "and summit connects to it"

say "pg_password: summit needs its password; libpq takes it from PGPASSFILE, 0600 only"
PW="s3cr'et:x"
pg_password "$PW"
eq "$(pg_sql 'SELECT current_user')" "summit" "pg_sql passes the password on"
if env -u PGPASSWORD -u PGPASSFILE "$PG_BIN/psql" -X -w -d "$PG_URL" -c "SELECT 1" \
  >"$T/nopw.out" 2>&1; then die "summit connected without its password"; fi
ok "without the password, summit is refused"
has "$T/nopw.out" "password" "and psql says a password is needed"
# The password file line escapes ':' (and '\') with a backslash.
printf '127.0.0.1:%s:summit:summit:%s\n' "$PG_PORT" "${PW//:/\\:}" >"$T/pgpass"
chmod 0600 "$T/pgpass"
env -u PGPASSWORD PGPASSFILE="$T/pgpass" "$PG_BIN/psql" -X -w -A -t -d "$PG_URL" \
  -c "SELECT current_user" >"$T/pgpass.out" 2>&1 || { cat "$T/pgpass.out" >&2; die "PGPASSFILE was not used"; }
eq "$(cat "$T/pgpass.out")" "summit" "PGPASSFILE (mode 0600) logs summit in; PG_URL holds no password"
chmod 0640 "$T/pgpass"
if env -u PGPASSWORD PGPASSFILE="$T/pgpass" "$PG_BIN/psql" -X -w -d "$PG_URL" -c "SELECT 1" \
  >"$T/pgpass640.out" 2>&1; then die "libpq used a password file that its group can read"; fi
has "$T/pgpass640.out" "group or world access" "libpq ignores a password file of mode 0640 (docs/team.md)"
pg_stop
cat >"$T/badset.sh" <<EOF
set -euo pipefail
source "$HERE/lib.sh" "$SUMMIT"
pg_start "fsync off"
EOF
RC=0
bash "$T/badset.sh" "$SUMMIT" >"$T/badset.out" 2>"$T/badset.err" || RC=$?
eq "$RC" "1" "pg_start with a malformed setting fails"
has "$T/badset.err" "'fsync off' is not a NAME=VALUE setting" "and says which setting"

# A test that starts two servers and then fails (or is stopped by ctest's
# timeout): its exit cleanup stops both. ENDING is how it ends.
early_end() {
  local ending=$1
  cat >"$T/early.sh" <<EOF
set -euo pipefail
source "$HERE/lib.sh" "$SUMMIT"
PG_ROOT=\$T/first
pg_start
FIRST="\$PG_DATA \$(_pg_postmaster)"
PG_ROOT=\$T/second
pg_start
echo "\$PG_DATA \$(_pg_postmaster) \$FIRST" >"$T/early.where"
pg_sql "SELECT 1" >/dev/null
$ending
EOF
  rm -f "$T/early.where"
  RC=0
  bash "$T/early.sh" "$SUMMIT" >"$T/early.out" 2>"$T/early.err" &
  local pid=$!
  wait_until 60 "the early test's server" test -s "$T/early.where"
  [[ $ending == *wait* ]] && kill -TERM "$pid"
  wait "$pid" || RC=$?
  read -r EDATA EPID EDATA1 EPID1 <"$T/early.where"
  [[ $EPID =~ ^[0-9]+$ && $EPID1 =~ ^[0-9]+$ ]] ||
    die "no postmaster pids from the early test: $(cat "$T/early.where")"
}

say "a test that fails after pg_start (two servers) leaves no server"
early_end 'die "deliberate early failure"'
eq "$RC" "1" "the failing test exits 1"
_pg_alive "$EPID" && die "its postmaster $EPID still runs"
_pg_alive "$EPID1" && die "its first postmaster $EPID1 still runs"
ok "both its postmasters are gone"
eq "$(procs_of "$EDATA")" "0" "no process names its data directory"
eq "$(procs_of "$EDATA1")" "0" "no process names its first data directory"
[[ ! -e $EDATA ]] || die "its data directory $EDATA is left behind"
ok "its data directory is removed"

say "a test stopped by SIGTERM (a ctest timeout) leaves no server"
# (bash runs a trap once the foreground command ends: the test waits.)
early_end 'sleep 60 & BG_PIDS+=($!); wait $!'
eq "$RC" "143" "the stopped test exits 143"
_pg_alive "$EPID" && die "its postmaster $EPID still runs"
_pg_alive "$EPID1" && die "its first postmaster $EPID1 still runs"
ok "both its postmasters are gone"
eq "$(procs_of "$EDATA")" "0" "no process names its data directory"
