# shellcheck shell=bash disable=SC2034
# Shared helpers for the integration tests. Each test does:
#
#   set -euo pipefail
#   source "$(dirname "$0")/lib.sh" "$@"
#
# and gets: $SUMMIT (absolute path of the binary under test), $T (a fresh
# temp dir, removed on exit), SUMMIT_STATE_DIR=$T/state, $RUNBOOKS (the
# runbooks of tests/integration/runbooks) and the helpers below. Background
# processes started with `bg_start` and pids written to $T/pids/* or
# $T/*/pids/* are killed (by pid) on exit. KEEP_TMP=1 keeps $T of a failed
# test; SUMMIT_TEST_SEED replays the random choices of the tests that use
# them. Tests read state through summit's --json commands (runs, status,
# log, audit export, schedule list), so that a schema change breaks only
# the tests of the store; state_sql is the one way around that, for what
# no command shows. pg_start and the other pg_* helpers (lib_pg.sh) give a
# test a PostgreSQL server of its own, stopped on exit like the rest.

if [[ $# -lt 1 || -z ${1:-} ]]; then
  echo "usage: bash $(basename "$0") PATH-TO-SUMMIT-BINARY" >&2
  exit 2
fi
if [[ ! -x $1 ]]; then
  echo "FAIL: summit binary '$1' is not an executable file" >&2
  exit 2
fi
SUMMIT=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNBOOKS=$HERE/runbooks
TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/summit-$TEST_NAME.XXXXXX")
mkdir -p "$T/pids" "$T/wd"
export SUMMIT_STATE_DIR=$T/state
export SUMMIT_USER=tester
export NO_COLOR=1
# Under ASan a leak turns a clean exit into code 23 and the exit-code checks
# fail: a leak is a bug. (The values are those of `make test`.)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# shellcheck source=tests/integration/lib_pg.sh
source "$HERE/lib_pg.sh"
BG_PIDS=()
N_CHECKS=0
SOFT_FAILS=()

_cleanup() {
  local rc=$?
  set +e
  for pid in "${BG_PIDS[@]}"; do
    kill -9 "$pid" 2>/dev/null
  done
  # Children of summit run detached (own process group) and survive a
  # SIGKILL of summit; runbooks that start long ones write their pid to
  # $T/pids/NAME, $T/<workdir>/pids/NAME or one level deeper. A test's own
  # background servers are listed there too: kill them before the wait,
  # or a test that fails early waits for them until its timeout.
  for f in "$T"/pids/* "$T"/*/pids/* "$T"/*/*/pids/*; do
    [[ -f $f ]] || continue
    pid=$(cat "$f" 2>/dev/null)
    [[ $pid =~ ^[0-9]+$ ]] && kill -9 "$pid" 2>/dev/null
  done
  # A PostgreSQL server of the test (pg_start) is no child of the shell.
  pg_cleanup
  wait 2>/dev/null
  # Every summit run by `sm`/`bg_start` leaves its stderr in $T/*.err: a
  # sanitizer report there fails the test even when the exit code passed.
  if [[ $rc -eq 0 ]]; then
    local san
    san=$(cd "$T" && grep -l "Sanitizer" -- *.err 2>/dev/null | tr '\n' ' ')
    [[ -z $san ]] || SOFT_FAILS+=("an ASan/UBSan/LSan report in: $san")
  fi
  if [[ $rc -eq 0 && ${#SOFT_FAILS[@]} -gt 0 ]]; then
    echo >&2
    for f in "${SOFT_FAILS[@]}"; do echo "FAIL: $f" >&2; done
    rc=1
  fi
  if [[ $rc -ne 0 && -n ${KEEP_TMP:-} ]]; then
    echo "(kept $T)" >&2
  else
    rm -rf "$T"
  fi
  if [[ $rc -eq 0 ]]; then
    echo "PASS $TEST_NAME ($N_CHECKS checks)"
  else
    echo "FAILED $TEST_NAME (exit $rc)" >&2
  fi
  exit "$rc"
}
trap _cleanup EXIT
# A test stopped by a signal (a timeout) still cleans up.
trap 'exit 143' TERM
trap 'exit 130' INT

# SUMMIT_TEST_STORE=postgresql runs the whole test on a PostgreSQL store of
# its own (ctest's integration/pg/* entries): every summit it starts gets
# SUMMIT_STORE. Only tests that read state through summit's commands can
# run so (not those that use state_sql, which reads the SQLite file).
if [[ ${SUMMIT_TEST_STORE:-} == postgresql ]]; then
  pg_start >/dev/null
  export SUMMIT_STORE=$PG_URL
  echo "store: $PG_URL"
fi

say() { printf '\n== %s\n' "$*"; }
ok() { N_CHECKS=$((N_CHECKS + 1)); printf '  ok: %s\n' "$*"; }
die() {
  printf '\nFAIL: %s\n' "$*" >&2
  exit 1
}

# soft_eq ACTUAL EXPECTED WHAT: like eq, but a mismatch is recorded and the
# test goes on (it still fails at the end). For checks whose failure should
# not hide the checks after them.
soft_eq() {
  if [[ "$1" != "$2" ]]; then
    printf '  FAIL (continuing): %s: expected %s, got %s\n' "$3" "'$2'" "'$1'" >&2
    SOFT_FAILS+=("$3: expected '$2', got '$1'")
  else
    ok "$3"
  fi
}

# soft_has FILE TEXT WHAT: like has, but recorded and the test goes on.
soft_has() {
  if ! grep -qF -- "$2" "$1" 2>/dev/null; then
    printf '  FAIL (continuing): %s: %s does not contain %s\n' "$3" "$(basename "$1")" "'$2'" >&2
    sed 's/^/    | /' "$1" >&2 2>/dev/null || true
    SOFT_FAILS+=("$3: expected to find '$2' in $(basename "$1")")
  else
    ok "$3"
  fi
}

# Prints the named capture files (of `sm`) to stderr, for failure context.
show() {
  local name
  for name in "$@"; do
    for ext in out err; do
      if [[ -s $T/$name.$ext ]]; then
        echo "---- $name std$ext ----" >&2
        head -c 6000 "$T/$name.$ext" >&2
      fi
    done
  done
}

# sm NAME ARGS...: runs summit ARGS, stdout -> $T/NAME.out, stderr ->
# $T/NAME.err, exit code -> $RC (never trips set -e). A summit that hangs
# is stopped after $SM_TIMEOUT seconds (RC 124) so the test fails instead.
SM_TIMEOUT=${SM_TIMEOUT:-60}
sm() {
  local name=$1
  shift
  RC=0
  timeout -k 5 "$SM_TIMEOUT" "$SUMMIT" "$@" >"$T/$name.out" 2>"$T/$name.err" || RC=$?
  if [[ $RC -eq 124 ]]; then
    echo "  (summit $* did not finish within ${SM_TIMEOUT}s and was stopped)" >&2
  fi
}

# expect_rc WANT NAME WHAT: the last `sm NAME` exited WANT.
expect_rc() {
  local want=$1 name=$2 what=$3
  if [[ $RC -ne $want ]]; then
    show "$name"
    die "$what: expected exit code $want, got $RC"
  fi
  ok "$what: exit code $want"
}

# has FILE TEXT WHAT: FILE contains TEXT (fixed string).
has() {
  local file=$1 text=$2 what=$3
  if ! grep -qF -- "$text" "$file" 2>/dev/null; then
    echo "---- $file ----" >&2
    head -c 6000 "$file" >&2 2>/dev/null || true
    die "$what: expected to find '$text' in $(basename "$file")"
  fi
  ok "$what"
}

# has_num FILE NUMBER WHAT: FILE contains NUMBER as a whole number.
has_num() {
  if ! grep -qE -- "(^|[^0-9])$2([^0-9]|\$)" "$1" 2>/dev/null; then
    echo "---- $1 ----" >&2
    head -c 6000 "$1" >&2 2>/dev/null || true
    die "$3: expected to find the number $2 in $(basename "$1")"
  fi
  ok "$3"
}

# hasnt FILE TEXT WHAT: FILE does not contain TEXT.
hasnt() {
  local file=$1 text=$2 what=$3
  if grep -qF -- "$text" "$file" 2>/dev/null; then
    echo "---- $file ----" >&2
    head -c 6000 "$file" >&2
    die "$what: did not expect '$text' in $(basename "$file")"
  fi
  ok "$what"
}

# eq ACTUAL EXPECTED WHAT
eq() {
  if [[ "$1" != "$2" ]]; then
    die "$3: expected '$2', got '$1'"
  fi
  ok "$3"
}

# lines FILE: number of lines (0 when the file does not exist).
lines() {
  if [[ -f $1 ]]; then wc -l <"$1" | tr -d ' '; else echo 0; fi
}

# py EXPR-SCRIPT ARGS...: runs a python3 snippet; stdin passes through.
py() {
  local code=$1
  shift
  python3 -c "$code" "$@"
}

# jq_py FILE EXPR: evaluates a Python expression over d = the JSON in FILE.
jq_py() {
  py 'import json,sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, tuple)) else v)' "$1" "$2"
}

# newest_run: the id of the newest run (summit runs --json is newest first).
newest_run() {
  { "$SUMMIT" runs --json 2>/dev/null || true; } | head -n 1 |
    py 'import json,sys
line = sys.stdin.readline().strip()
print(json.loads(line)["run"] if line else "")'
}

# wait_new_run PREV: waits (up to 30 s) until the newest run is not PREV
# (the newest run before a launch, "" if none); sets NEW_RUN to it.
wait_new_run() {
  local prev=$1 deadline=$((SECONDS + 30)) id
  while :; do
    id=$(newest_run)
    if [[ -n $id && $id != "$prev" ]]; then
      NEW_RUN=$id
      return 0
    fi
    ((SECONDS <= deadline)) || die "timed out waiting for a new run to be created"
    sleep 0.05
  done
}

# run_count: how many runs the state database lists.
run_count() {
  if [[ ! -e $SUMMIT_STATE_DIR/state.db ]]; then echo 0; return; fi
  "$SUMMIT" runs --json | grep -c '"run"' || true
}

# run_field RUN FIELD: a top-level field of `summit status RUN --json`.
run_field() {
  "$SUMMIT" status "$1" --json | py 'import json,sys
d = json.load(sys.stdin)
v = d.get(sys.argv[1])
print("" if v is None else (json.dumps(v) if isinstance(v, (dict, list)) else v))' "$2"
}

run_status() { run_field "$1" status; }

# schedule_field NAME FIELD: a field of the schedule NAME in `summit
# schedule list --json` ("" when absent).
schedule_field() {
  "$SUMMIT" schedule list --json | py 'import json,sys
for l in sys.stdin:
    s = json.loads(l)
    if s["schedule"] == sys.argv[1]:
        v = s.get(sys.argv[2])
        print("" if v is None else v)' "$1" "$2"
}

# entry_field RUN KEY FIELD: a field of the entry KEY in `summit status`.
entry_field() {
  "$SUMMIT" status "$1" --json | py 'import json,sys
d = json.load(sys.stdin)
for e in d.get("entries", []):
    if e["key"] == sys.argv[1]:
        v = e.get(sys.argv[2])
        print("" if v is None else v)
        break
else:
    print("<no entry>")' "$2" "$3"
}

# expect_status RUN WANT WHAT
expect_status() {
  local got
  got=$(run_status "$1")
  if [[ $got != "$2" ]]; then
    "$SUMMIT" status "$1" >&2 || true
    die "$3: expected run status '$2', got '$got'"
  fi
  ok "$3: status $2"
}

# wait_until SECONDS WHAT CMD...: polls CMD every 50 ms until it succeeds.
wait_until() {
  local secs=$1 what=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      die "timed out after ${secs}s waiting for: $what"
    fi
    sleep 0.05
  done
}

# bg_start NAME ARGS...: starts summit ARGS in the background with the same
# capture files as `sm`; sets BG_PID (summit's own pid, to signal). A
# wrapper subshell waits for it, so bash's "Killed" job notices stay quiet.
declare -A BG_WRAP=() BG_NAME=()
bg_start() {
  local name=$1
  shift
  rm -f "$T/$name.pid" "$T/$name.rc"
  (
    "$SUMMIT" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    echo $! >"$T/$name.pid"
    rc=0
    wait $! || rc=$?
    echo $rc >"$T/$name.rc"
  ) 2>/dev/null &
  local wrap=$!
  until [[ -s $T/$name.pid ]]; do sleep 0.01; done
  BG_PID=$(<"$T/$name.pid")
  BG_WRAP[$BG_PID]=$wrap
  BG_NAME[$BG_PID]=$name
  BG_PIDS+=("$BG_PID")
}

# bg_wait PID: waits for a background summit; its exit code -> $RC.
bg_wait() {
  local pid=$1
  wait "${BG_WRAP[$pid]}" 2>/dev/null || true
  RC=$(cat "$T/${BG_NAME[$pid]}.rc" 2>/dev/null || echo 255)
  local keep=() p
  for p in "${BG_PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  BG_PIDS=("${keep[@]+"${keep[@]}"}")
}

# kill_cycle K RUN DELAY_MS INFLIGHT: the crash tests' cycle K. Unless K
# is 1 (the launch, already started as $BG_PID), starts `resume RUN` in the
# background; then SIGKILLs it after DELAY_MS and waits. Sets RC (137: the
# kill landed) and appends "K KEY" to file INFLIGHT for every entry the
# journal holds in flight (started, not finished) after the kill. Dies
# when summit exited with anything but 137 or 0 (finished first).
kill_cycle() {
  local k=$1 run=$2 d=$3 inflight=$4 pid=$BG_PID
  if ((k > 1)); then
    bg_start "resume$k" resume "$run"
    pid=$BG_PID
  fi
  ms_sleep "$d"
  kill -9 "$pid" 2>/dev/null || true
  bg_wait "$pid"
  if [[ $RC -eq 137 ]]; then
    "$SUMMIT" status "$run" --json | py 'import json,sys
d = json.load(sys.stdin)
for e in d["entries"]:
    if e["state"] == "started":
        print(sys.argv[1], e["key"])' "$k" >>"$inflight"
    echo "  kill $k after ${d} ms: in flight: $(awk -v k="$k" '$1==k{printf "%s ", $2}' "$inflight")"
  elif [[ $RC -eq 0 ]]; then
    echo "  kill $k after ${d} ms: the run had already finished"
  else
    show launch "resume$k"
    die "cycle $k: summit exited $RC before the kill (expected to be killed, 137)"
  fi
}

# bg_run NAME ARGS...: bg_start NAME ARGS (a command that makes a run, such
# as `run`), then waits for that run; sets BG_PID and NEW_RUN.
bg_run() {
  local prev
  prev=$(newest_run)
  bg_start "$@"
  wait_new_run "$prev"
}

# journal_has RUN KEY STATE: the journal of RUN holds a row KEY in STATE.
journal_has() {
  "$SUMMIT" log "$1" --json | py 'import json,sys
for line in sys.stdin:
    r = json.loads(line)
    if r["key"] == sys.argv[1] and r["state"] == sys.argv[2]:
        sys.exit(0)
sys.exit(1)' "$2" "$3"
}

# waiting RUN FIELD: a field of the run's open wait in `runs --waiting`.
waiting() {
  "$SUMMIT" runs --waiting --json | py 'import json,sys
for l in sys.stdin:
    w = json.loads(l)
    if w["run"] == sys.argv[1]:
        v = w.get(sys.argv[2])
        print(",".join(v) if isinstance(v, list) else ("" if v is None else v))
        break
else:
    print("<not waiting>")' "$1" "$2"
}

# attempts RUN KEY STATE: the attempt numbers (comma-separated, in journal
# order) of the rows KEY in STATE, from `summit log --json`.
attempts() {
  "$SUMMIT" log "$1" --json | py 'import json,sys
print(",".join(str(r["attempt"]) for r in map(json.loads, sys.stdin)
               if r["key"] == sys.argv[1] and r["state"] == sys.argv[2]))' "$2" "$3"
}

# srv_stat EXPR: a Python expression over d = the /stats of the test HTTP
# server (http_server.py) at $URL.
srv_stat() {
  curl -fsS "$URL/stats" | py 'import json,sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$1"
}

# start_http_server [LOG]: the test HTTP server (http_server.py) on an
# ephemeral port of 127.0.0.1, its output in $T/LOG (default server.log),
# its pid in SERVER_PID and $T/pids/http_server; sets HOSTPORT and URL.
# shellcheck disable=SC2120  # the argument is optional
start_http_server() {
  rm -f "$T/port"
  python3 "$HERE/http_server.py" "$T/port" >"$T/${1:-server.log}" 2>&1 &
  SERVER_PID=$!
  BG_PIDS+=("$SERVER_PID")
  echo "$SERVER_PID" >"$T/pids/http_server"
  wait_until 10 "the test HTTP server to listen" test -s "$T/port"
  HOSTPORT=127.0.0.1:$(<"$T/port")
  URL=http://$HOSTPORT
}

# started_rows RUN KEY: how many 'started' rows the journal of RUN has for KEY.
started_rows() {
  "$SUMMIT" log "$1" --json | py 'import json,sys
print(sum(1 for l in sys.stdin for r in [json.loads(l)] if r["key"] == sys.argv[1] and r["state"] == "started"))' "$2"
}

# trace_is DIR WHAT LINE...: DIR/trace (a runbook's own log) holds exactly these lines.
trace_is() {
  local dir=$1 what=$2
  shift 2
  local want got
  want=$( (($# > 0)) && printf '%s\n' "$@")
  got=$(cat "$dir/trace" 2>/dev/null || true)
  if [[ $got != "$want" ]]; then
    printf -- '---- expected trace ----\n%s\n---- actual trace ----\n%s\n' "$want" "$got" >&2
    die "$what: the trace is not as expected"
  fi
  ok "$what"
}

# audit_count RUN ACTION [TEXT]: how many audit records of RUN ("" for all
# runs) have ACTION and, given TEXT, contain it in their hashed record.
audit_count() {
  local args=(audit export)
  [[ -z $1 ]] || args+=(--run "$1")
  { "$SUMMIT" "${args[@]}" 2>/dev/null || true; } | py 'import json,sys
print(sum(1 for l in sys.stdin for r in [json.loads(l)]
          if r["action"] == sys.argv[1] and sys.argv[2] in r["record"]))' "$2" "${3-}"
}

# result_field NAME FIELD: a field (a.b for nested ones) of the last
# "RESULT {json}" line that `sm NAME` printed; objects, lists, booleans and
# null as JSON.
result_field() {
  sed -n 's/^.*RESULT //p' "$T/$1.out" | tail -n 1 | py 'import json,sys
t = sys.stdin.read().strip()
if not t:
    sys.exit("no RESULT line")
v = json.loads(t)
for k in sys.argv[1].split("."):
    v = v[k]
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$2"
}

# audit_of RUN: the run's audit export, in $T/audit.jsonl.
audit_of() { "$SUMMIT" audit export --run "$1" >"$T/audit.jsonl" 2>"$T/audit.err"; }

# audit_verify [WHEN]: `summit audit verify` finds the whole chain intact.
# shellcheck disable=SC2120  # the argument is optional
audit_verify() {
  sm verify audit verify
  expect_rc 0 verify "summit audit verify${1:+ ($1)}"
}

# state_sql SQL [PARAM...]: runs one statement (? placeholders) on
# state.db, commits, and prints the rows as "a|b" lines (NULL as "").
# Only for what no summit command shows (a run's schedule and fire time,
# its lease and fencing epoch, journal results, decision rows) or for
# planting a state that no command can make (a forged row, a stale
# owner): it ties the test to the schema, so read state through the
# --json commands wherever one shows it.
state_sql() {
  # On a PostgreSQL store (SUMMIT_TEST_STORE) the same SQL goes to psql;
  # parameters are SQLite's only.
  if [[ ${SUMMIT_TEST_STORE:-} == postgresql ]]; then
    [[ $# -eq 1 ]] || die "state_sql: parameters are for SQLite only"
    pg_sql "$1"
    return
  fi
  py 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
rows = c.execute(sys.argv[2], sys.argv[3:]).fetchall()
c.commit()
for r in rows:
    print("|".join("" if v is None else str(v) for v in r))' "$SUMMIT_STATE_DIR/state.db" "$@"
}

# forge_approval RUN KEY GATE ACTOR [SIGFILE]: an "approve" decision bound
# to version v1 (signed with SIGFILE's text), written into state.db as an
# attacker with write access to it could: no command writes one unjudged.
forge_approval() {
  py 'import sqlite3,sys,time
db = sqlite3.connect(sys.argv[1])
sig = open(sys.argv[6]).read() if len(sys.argv) > 6 else None
db.execute("INSERT INTO approvals(run_id, wait_key, attempt, gate, actor, decision, bind,"
           " signature, ts_ms) VALUES(?, ?, 1, ?, ?, ?, ?, ?, ?)",
           (sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], "approve",
            "{\"version\":\"v1\"}", sig, int(time.time() * 1000)))
db.commit()' "$SUMMIT_STATE_DIR/state.db" "$@"
}

# ssh_keys DIR WHO...: an ed25519 key pair DIR/WHO, DIR/WHO.pub (comment
# WHO, no passphrase) for each WHO.
ssh_keys() {
  local dir=$1 who
  shift
  mkdir -p "$dir"
  for who in "$@"; do
    ssh-keygen -q -t ed25519 -N "" -C "$who" -f "$dir/$who"
  done
}

# signer PRINCIPALS KEY: an allowed_signers line (the format git uses for
# SSH signing: principals, key type, key) for the public key KEY.pub.
signer() { echo "$1 $(cut -d' ' -f1,2 "$2.pub")"; }

# git_identity: a fixed author and committer, no system or user git
# config (HOME=$T) and "main" as the default branch.
git_identity() {
  export GIT_AUTHOR_NAME=Dev GIT_AUTHOR_EMAIL=dev@example.com GIT_COMMITTER_NAME=Dev \
    GIT_COMMITTER_EMAIL=dev@example.com GIT_CONFIG_NOSYSTEM=1 HOME=$T
  git config --global init.defaultBranch main
}

# ms_sleep MS: sleeps MS milliseconds.
ms_sleep() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# now_ms: wall clock in milliseconds.
now_ms() { date +%s%3N; }

# ---- the simulated cluster and the real kubectl ----

# start_sim NAME ARGS...: starts `summit sim serve` on an ephemeral port;
# sets SIM_PID and URL once it prints where it serves.
start_sim() {
  local name=$1
  shift
  bg_start "$name" sim serve --listen 127.0.0.1:0 "$@"
  SIM_PID=$BG_PID
  local deadline=$((SECONDS + 30))
  until grep -q "serving on" "$T/$name.out" 2>/dev/null; do
    if ! kill -0 "$SIM_PID" 2>/dev/null || ((SECONDS > deadline)); then
      show "$name"
      die "summit sim serve did not start"
    fi
    sleep 0.05
  done
  URL=$(sed -n 's/^summit sim serving on \(http:[^ ]*\)$/\1/p' "$T/$name.out")
  [[ $URL =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || die "no URL in: $(cat "$T/$name.out")"
}

# stop_sim NAME: SIGTERM, then the exit code must be 0.
stop_sim() {
  kill -TERM "$SIM_PID"
  bg_wait "$SIM_PID"
  if [[ $RC -ne 0 ]]; then
    show "$1"
    die "summit sim serve exited $RC after SIGTERM (ASan reports leaks as 23)"
  fi
  ok "sim stopped cleanly on SIGTERM (exit 0)"
  hasnt "$T/$1.err" "failed:" "no Lua errors in the sim's log"
  hasnt "$T/$1.err" "internal error" "no internal errors in the sim's log"
}

# sim_workdir RUNBOOK...: $W (the work directory) with copies of the
# runbooks and a summit.lua whose environment prod is namespace prod of
# the sim (through $T/kubeconfig), plus any Lua table fields given in
# SUMMIT_EXTRA; cds there.
sim_workdir() {
  W=$T/wd
  local f
  for f in "$@"; do cp "$RUNBOOKS/$f" "$W"/; done
  cat >"$W/summit.lua" <<LUA
return {
  environments = { prod = { cluster = "k", namespace = "prod" } },
  clusters = { k = { kubeconfig = "../kubeconfig" } },
  ${SUMMIT_EXTRA:-}
}
LUA
  cd "$W"
}

# k NAME ARGS...: kubectl against the sim; stdout/stderr to $T/NAME.out
# and .err, exit code in RC.
k() {
  local name=$1
  shift
  RC=0
  timeout -k 5 60 kubectl --kubeconfig "$T/kubeconfig" --cache-dir "$T/kcache" \
    --request-timeout=20s "$@" >"$T/$name.out" 2>"$T/$name.err" || RC=$?
}

# krc WANT NAME WHAT: the last `k NAME` exited WANT.
krc() {
  if [[ $RC -ne $1 ]]; then
    show "$2"
    die "$3: expected exit code $1, got $RC"
  fi
  ok "$3: exit code $1"
}

# kget NS WHAT JSONPATH: one value from the real kubectl (fails the test
# when kubectl does).
kget() {
  k kget -n "$1" get "$2" -o "jsonpath=$3"
  krc 0 kget "kubectl get $2 -n $1" >/dev/null
  cat "$T/kget.out"
}
