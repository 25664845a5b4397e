#!/usr/bin/env bash
# Issue 12 item 1 / fenced leases (DESIGN §11, docs/journal.md), with real
# SIGSTOP/SIGCONT and a real CPU-bound step. The lease lasts 1 s here
# (SUMMIT_LEASE_TTL), so an owner stopped for a little longer loses it.
#
#  A. `summit run` stopped past its lease; another process resumes and
#     finishes the run; the first, continued, exits 5 naming the new owner,
#     and every step after the one in flight ran exactly once.
#  B. The same for a process that was itself a `summit resume`.
#  C. `summit cancel` of a run whose owner is stopped takes it over: the
#     run stays cancelled after SIGCONT (the owner exits 5), run.finished
#     is recorded once and `summit audit verify` passes. A cancel that
#     asked a live owner which is stopped before it answers does the same
#     once that owner's lease lapses (C2).
#  D. The daemon picks up the run of a stopped owner as an orphan and
#     finishes it; the continued owner exits 5, nothing ran twice.
#  E. A CPU-bound step (a busy Lua loop starves the lease renewal) loses
#     the lease to a resume: the step's own exec after the loop and every
#     later step run once, in the new owner only; with --json the busy
#     owner prints run.fenced and no run.finished.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
W=$T/wd
cd "$W"
export SUMMIT_LEASE_TTL=1s

cat >fenced.lua <<'EOF'
-- Each step appends its name to trace: the trace counts the effects.
return runbook {
  name = "fenced",
  params = {
    dir = { type = "string", required = true },
    spin = { type = "number", default = 0 },
  },
  run = function(p)
    local function mark(what)
      exec({ "sh", "-c", 'echo "$1" >> "$2"', "sh", what, p.dir .. "/trace" })
    end
    step("one", function() mark("one") end)
    if p.spin > 0 then
      step("spin", function()
        -- CPU-bound: nothing yields, the loop's timers do not run.
        local t0 = os.clock()
        while os.clock() - t0 < p.spin do end
        mark("spun")
      end)
    else
      step("gate", function()
        mark("gate")
        exec({ "sh", "-c", 'echo $$ > "$1"; while ! test -e "$2"; do sleep 0.05; done',
               "sh", p.dir .. "/pids/child", p.dir .. "/go" })
      end)
    end
    step("two", function() mark("two") end)
    step("three", function() mark("three") end)
  end,
}
EOF

# lease_lapsed RUN: the run's lease has expired (its owner stopped renewing).
# This test is about the store's fencing, so it reads the lease (expiry,
# epoch) as the store keeps it, in ms, with state_sql (lib.sh).
lease_lapsed() {
  local exp
  exp=$(state_sql "SELECT lease_expires_ms FROM runs WHERE id = '$1'")
  [[ -n $exp ]] && ((exp < $(now_ms)))
}
# count DIR WORD: how many times WORD is in DIR/trace.
count() { grep -cx -- "$2" "$1/trace" 2>/dev/null || true; }
# write_lock_free: nobody holds the state database's write lock now.
write_lock_free() {
  py 'import sqlite3,sys
c = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    c.execute("BEGIN IMMEDIATE")
    c.execute("ROLLBACK")
except sqlite3.OperationalError:
    sys.exit(1)' "$SUMMIT_STATE_DIR/state.db"
}
# stop_owner PID: SIGSTOP the owner outside a write transaction. A process
# stopped inside one keeps SQLite's write lock, which no other process can
# break (docs/journal.md, "A stall inside a write transaction"): no takeover is possible until
# it continues. The owner renews its lease three times a second, so a stop
# that lands in a renewal is continued and tried again.
stop_owner() {
  local i
  for ((i = 0; i < 50; i++)); do
    kill -STOP "$1"
    if write_lock_free; then return 0; fi
    kill -CONT "$1"
    sleep 0.0$((RANDOM % 9 + 1))
  done
  die "the owner (pid $1) held the write lock at each of 50 stops"
}
# stop_past_lease PID RUN: SIGSTOP the owner and wait until its lease lapses.
stop_past_lease() {
  stop_owner "$1"
  wait_until 20 "the lease of the stopped owner to lapse" lease_lapsed "$2"
  ok "the stopped owner's lease lapsed"
}
# continued_exits_5 NAME PID NEWPID: SIGCONT, then exit 5 naming NEWPID.
continued_exits_5() {
  if ! kill -CONT "$2" 2>/dev/null; then
    show "$1"
    die "the stopped owner (pid $2) was gone before SIGCONT"
  fi
  bg_wait "$2"
  if [[ $RC -ne 5 ]]; then
    show "$1"
    die "the continued owner: expected exit code 5, got $RC"
  fi
  ok "the continued owner exits 5"
  has "$T/$1.err" "taken over by pid $3" "its message names the new owner (pid $3)"
  has "$T/$1.err" "stopped without starting anything more" "it says it started nothing more"
}
# lease_epoch RUN: the pid of the newest lease holder (the fencing epoch).
lease_epoch() { state_sql "SELECT epoch_pid FROM runs WHERE id = ?" "$1"; }
# start_fenced NAME: fenced.lua on $d in the background, up to its blocking
# step; sets A (summit's pid) and RUN.
start_fenced() {
  bg_run "$1" run fenced.lua -p dir="$d"
  A=$BG_PID
  RUN=$NEW_RUN
  wait_until 30 "the run to reach its blocking step" test -s "$d/pids/child"
}
# once DIR WORD...: each WORD is in DIR/trace exactly once.
once() {
  local dir=$1 w
  shift
  for w in "$@"; do eq "$(count "$dir" "$w")" 1 "step effect '$w' ran exactly once"; done
}

say "A: summit run stopped past its lease; a resume finishes it"
d=$W/a
mkdir -p "$d/pids"
start_fenced a
stop_past_lease "$A" "$RUN"
touch "$d/go"
bg_start a_resume resume "$RUN"
B=$BG_PID
bg_wait "$B"
expect_rc 0 a_resume "a second process resumes the run of the stopped owner"
expect_status "$RUN" succeeded "the new owner finished the run"
continued_exits_5 a "$A" "$B"
expect_status "$RUN" succeeded "the run is still as the new owner left it"
once "$d" one gate two three
eq "$(entry_field "$RUN" 2/2 attempt)" 2 "the exec in flight at the takeover ran again (attempt 2), as after a crash"
eq "$(audit_count "$RUN" run.finished)" 1 "run.finished is recorded once"
audit_verify

say "B: summit resume stopped past its lease; another resume finishes it"
d=$W/b
mkdir -p "$d/pids"
cat >pause.lua <<'EOF'
return runbook {
  name = "paused",
  params = { dir = { type = "string", required = true } },
  run = function(p)
    local function mark(what)
      exec({ "sh", "-c", 'echo "$1" >> "$2"', "sh", what, p.dir .. "/trace" })
    end
    step("one", function() mark("one") end)
    sleep("1s")
    step("gate", function()
      mark("gate")
      exec({ "sh", "-c", 'echo $$ > "$1"; while ! test -e "$2"; do sleep 0.05; done',
             "sh", p.dir .. "/pids/child", p.dir .. "/go" })
    end)
    step("two", function() mark("two") end)
    step("three", function() mark("three") end)
  end,
}
EOF
sm b_run run pause.lua -p dir="$d" --detach
expect_rc 3 b_run "the run suspends on its sleep"
RUN=$(newest_run)
bg_start b_first resume "$RUN"
A=$BG_PID
wait_until 30 "the resumed run to reach its blocking step" test -s "$d/pids/child"
stop_past_lease "$A" "$RUN"
touch "$d/go"
bg_start b_second resume "$RUN"
B=$BG_PID
bg_wait "$B"
expect_rc 0 b_second "another resume takes the run of the stopped resume"
continued_exits_5 b_first "$A" "$B"
expect_status "$RUN" succeeded "the run is as the new owner left it"
once "$d" one gate two three
eq "$(audit_count "$RUN" run.finished)" 1 "run.finished is recorded once"
audit_verify

say "C: summit cancel of a run whose owner is stopped"
d=$W/c
mkdir -p "$d/pids"
start_fenced c
stop_past_lease "$A" "$RUN"
touch "$d/go"   # the owner's step would now complete
sm c_cancel cancel "$RUN"
expect_rc 0 c_cancel "summit cancel"
has "$T/c_cancel.out" "cancelled" "cancel says the run is cancelled"
expect_status "$RUN" cancelled "the cancel took the run"
C=$(lease_epoch "$RUN")
[[ $C =~ ^[0-9]+$ && $C != "$A" ]] || die "the run's newest lease holder is not the cancel (got '$C')"
ok "the cancel holds the newest lease epoch"
continued_exits_5 c "$A" "$C"
has "$T/c.err" "the run is now cancelled" "the owner is told the run was cancelled"
expect_status "$RUN" cancelled "the run stays cancelled after SIGCONT"
once "$d" one
eq "$(count "$d" two)" 0 "no step after the cancel ran"
eq "$(audit_count "$RUN" run.finished)" 1 "run.finished is recorded once"
audit_verify

say "C2: summit cancel asks a live owner that is then stopped"
d=$W/c2
mkdir -p "$d/pids"
# A 5 s lease here, so that the owner is still alive when the cancel asks.
SUMMIT_LEASE_TTL=5s start_fenced c2
stop_owner "$A"
SUMMIT_LEASE_TTL=5s sm c2_cancel cancel "$RUN"
expect_rc 0 c2_cancel "summit cancel"
has "$T/c2_cancel.out" "cancel requested" "the cancel first asks the owner"
has "$T/c2_cancel.out" "stopped renewing its lease; cancelling the run here" \
  "when the owner's lease lapses, the cancel takes the run itself"
expect_status "$RUN" cancelled "the run is cancelled while its owner is stopped"
C=$(lease_epoch "$RUN")
touch "$d/go"
continued_exits_5 c2 "$A" "$C"
expect_status "$RUN" cancelled "the run stays cancelled after SIGCONT"
eq "$(count "$d" two)" 0 "no step after the cancel ran"
eq "$(audit_count "$RUN" run.finished)" 1 "run.finished is recorded once"
eq "$(audit_count "$RUN" run.cancel_requested)" 1 "run.cancel_requested is recorded once"
audit_verify

say "D: the daemon picks up the run of a stopped owner"
d=$W/d
mkdir -p "$d/pids"
start_fenced d
stop_owner "$A"
touch "$d/go"
bg_start daemon daemon
D=$BG_PID
done_ok() { [[ $(run_status "$RUN") == succeeded ]]; }
wait_until 30 "the daemon to finish the orphaned run" done_ok
N=$(lease_epoch "$RUN")
[[ $N =~ ^[0-9]+$ && $N != "$A" ]] || die "the run's newest lease holder is not the daemon's child (got '$N')"
ok "a child of the daemon took the run over"
kill -TERM "$D"
bg_wait "$D"
eq "$RC" 0 "the daemon stops on SIGTERM"
continued_exits_5 d "$A" "$N"
expect_status "$RUN" succeeded "the run is as the daemon's child left it"
once "$d" one two three
eq "$(audit_count "$RUN" run.finished)" 1 "run.finished is recorded once"
audit_verify

say "E: a CPU-bound step loses the lease to a resume"
d=$W/e
mkdir -p "$d/pids"
prev=$(newest_run)
# 6 s of CPU: long enough for the steps below even on a loaded machine
# (the queries go straight to the database to stay light).
bg_start e run fenced.lua -p dir="$d" -p spin=6 --json
A=$BG_PID
owner_spinning() {
  [[ $(state_sql "SELECT count(*) FROM journal j JOIN runs r ON r.id = j.run_id
           WHERE r.name = 'fenced' AND r.owner_pid = $A AND j.key = '2'") == 1 ]]
}
wait_until 30 "the CPU-bound step to start" owner_spinning
RUN=$(state_sql "SELECT id FROM runs WHERE owner_pid = $A")
wait_until 20 "the lease of the busy owner to lapse" lease_lapsed "$RUN"
ok "a busy Lua loop starves the renewal: the lease lapsed"
kill -0 "$A" || die "the busy owner is not running"
bg_start e_resume resume "$RUN"
B=$BG_PID
bg_wait "$A"
if [[ $RC -ne 5 ]]; then
  show e
  die "the busy owner: expected exit code 5, got $RC"
fi
ok "the busy owner exits 5 after its loop"
has "$T/e.err" "taken over by pid $B" "its message names the new owner (pid $B)"
has "$T/e.out" '"event":"run.fenced"' "--json: a run.fenced event"
hasnt "$T/e.out" '"event":"run.finished"' "--json: no run.finished from the busy owner"
bg_wait "$B"
expect_rc 0 e_resume "the resume finishes the run"
expect_status "$RUN" succeeded "the run succeeded"
once "$d" one spun two three
eq "$(audit_count "$RUN" run.finished)" 1 "run.finished is recorded once"
audit_verify

say "a bad SUMMIT_LEASE_TTL is a usage error"
SUMMIT_LEASE_TTL=soon sm badttl run fenced.lua -p dir="$W"
expect_rc 2 badttl "SUMMIT_LEASE_TTL=soon"
has "$T/badttl.err" "SUMMIT_LEASE_TTL=soon" "the message names the variable"
SUMMIT_LEASE_TTL=10ms sm badttl2 run fenced.lua -p dir="$W"
expect_rc 2 badttl2 "SUMMIT_LEASE_TTL=10ms (too short)"
