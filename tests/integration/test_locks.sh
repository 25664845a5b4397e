#!/usr/bin/env bash
# Issue 3 / environment locks and lock().
#
#  1. Two runs of a runbook with environment = "production" (its step
#     takes ~3 s) started together: exactly one runs (exit 0), the other
#     exits 5 and its stderr names the first run's id; only one step ran.
#  2. With --wait-lock the second run waits and runs after the first: both
#     exit 0, their steps do not overlap (timestamps), and the waiter's
#     --json output has a wait.started (kind lock) naming the holder.
#  3. A SIGKILLed holder does not block: a new run gets the lock at once.
#  4. A suspended run (--detach, sleep) keeps its lock: `summit locks`
#     lists it with the holder run; another run exits 5 naming it until the
#     suspended run is resumed to completion; then the lock is free.
#     A runbook with environment = true locks the --env environment (and
#     needs --env); cancelling a suspended holder frees its lock.
#  5. lock("db-migrations", fn, { timeout = "30s" }) in two concurrent runs:
#     they serialize (both succeed, no overlap, one waited); a lock() whose
#     timeout expires fails with ETIMEDOUT naming the holder; a SIGKILLed
#     lock() holder does not block the next run's lock().
#  6. lock("db-migrations", fn) without a timeout: the second run waits and
#     does not fail (soft checks: a failure here is reported at the end).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

W=$T/wd
cat >"$W/summit.lua" <<'EOF'
return {
  environments = {
    staging    = { namespace = "summit-staging" },
    production = { namespace = "summit-production" },
  },
}
EOF
cat >"$W/deploy.lua" <<'EOF'
return runbook {
  name = "deploy-prod",
  environment = "production",
  params = {
    dir = { type = "string", required = true },
    tag = { type = "string", required = true },
    secs = { type = "number", default = 3 },
  },
  run = function(p)
    step("work", function()
      exec({ "sh", "-c", 'echo $$ > "$4"; echo "start $1 $(date +%s%N)" >> "$2"; sleep "$3"; echo "end $1 $(date +%s%N)" >> "$2"',
             "sh", p.tag, p.dir .. "/times", tostring(p.secs), p.dir .. "/pid." .. p.tag })
    end)
  end,
}
EOF
cat >"$W/paused.lua" <<'EOF'
return runbook {
  name = "paused-prod",
  environment = "production",
  params = { dir = { type = "string", required = true } },
  run = function(p)
    step("before", function() return 1 end)
    sleep("2s")
    step("after", function()
      exec({ "sh", "-c", 'echo after >> "$1"', "sh", p.dir .. "/paused" })
    end)
  end,
}
EOF
cat >"$W/migrate.lua" <<'EOF'
return runbook {
  name = "migrate",
  params = {
    dir = { type = "string", required = true },
    tag = { type = "string", required = true },
    timeout = { type = "string", default = "" },
    secs = { type = "number", default = 2 },
  },
  run = function(p)
    step("migrate", function()
      local function body()
        exec({ "sh", "-c", 'echo $$ > "$4"; echo "start $1 $(date +%s%N)" >> "$2"; sleep "$3"; echo "end $1 $(date +%s%N)" >> "$2"',
               "sh", p.tag, p.dir .. "/mtimes", tostring(p.secs), p.dir .. "/pid." .. p.tag })
      end
      if p.timeout ~= "" then
        lock("db-migrations", body, { timeout = p.timeout })
      else
        lock("db-migrations", body)
      end
    end)
  end,
}
EOF
cd "$W"   # summit.lua is found here

# no_overlap FILE A B: in FILE's "start|end TAG NS" lines, A's interval
# ends before B's starts, or B's before A's. Prints which went first.
no_overlap() {
  py 'import sys
t = {}
for line in open(sys.argv[1]):
    kind, tag, ns = line.split()
    t[(kind, tag)] = int(ns)
a, b = sys.argv[2], sys.argv[3]
for k in (("start", a), ("end", a), ("start", b), ("end", b)):
    if k not in t:
        print("missing " + " ".join(k)); sys.exit(1)
if t[("end", a)] <= t[("start", b)]:
    print(a + " then " + b)
elif t[("end", b)] <= t[("start", a)]:
    print(b + " then " + a)
else:
    print("overlap: %s %d-%d, %s %d-%d" % (a, t[("start", a)], t[("end", a)], b, t[("start", b)], t[("end", b)])); sys.exit(1)' "$@"
}

# kill_group PIDFILE: kills the process group led by the pid in PIDFILE
# (summit starts each exec in its own group), e.g. what a SIGKILLed summit
# left running.
kill_group() {
  local pid
  pid=$(cat "$1" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] && kill -9 -- "-$pid" 2>/dev/null || true
}

# run_with NAME STATUS: ids of the runs of runbook NAME with status STATUS.
run_with() {
  "$SUMMIT" runs --json | py 'import json,sys
print(" ".join(r["run"] for r in map(json.loads, sys.stdin)
               if r["runbook"] == sys.argv[1] and r["status"] == sys.argv[2]))' "$1" "$2"
}

say "1. two runs against production started together: one runs, the other exits 5"
d1=$T/l1
mkdir -p "$d1"
bg_start a1 run "$W/deploy.lua" -p dir="$d1" -p tag=A
pa=$BG_PID
bg_start b1 run "$W/deploy.lua" -p dir="$d1" -p tag=B
pb=$BG_PID
bg_wait "$pa"
rca=$RC
bg_wait "$pb"
rcb=$RC
codes=$(printf '%s\n' "$rca" "$rcb" | sort -n | tr '\n' ' ')
[[ $codes == "0 5 " ]] || { show a1 b1; die "exit codes of the two runs: $rca and $rcb; want one 0 and one 5"; }
ok "one run exited 0, the other 5"
if [[ $rca == 0 ]]; then loser=b1 wtag=A; else loser=a1 wtag=B; fi
winner=$(run_with deploy-prod succeeded)
[[ $winner =~ ^[0-9a-z]+$ ]] || die "expected exactly one succeeded run of deploy-prod, got '$winner'"
ok "the run that got the lock is $winner"
has "$T/$loser.err" "$winner" "the refused run's stderr names the holder run $winner"
has "$T/$loser.err" "production" "and the environment"
eq "$(grep -c '^start' "$d1/times")" 1 "only one step ran"
has "$d1/times" "start $wtag" "it was the winner's"

say "2. --wait-lock: the second run waits and runs after the first"
d2=$T/l2
mkdir -p "$d2"
bg_run a2 run "$W/deploy.lua" -p dir="$d2" -p tag=A -p secs=2
pa=$BG_PID
run_a2=$NEW_RUN
wait_until 30 "the first run's step to start" grep -q '^start A' "$d2/times"
bg_start b2 run "$W/deploy.lua" -p dir="$d2" -p tag=B -p secs=1 --wait-lock --json
pb=$BG_PID
bg_wait "$pa"
expect_rc 0 a2 "the first run"
bg_wait "$pb"
expect_rc 0 b2 "the second run, with --wait-lock"
order=$(no_overlap "$d2/times" A B) || die "the two steps overlap: $order"
eq "$order" "A then B" "the steps did not overlap; the waiter ran second"
grep '"event":"wait.started"' "$T/b2.out" >"$T/b2.wait" || true
has "$T/b2.wait" '"kind":"lock"' "the waiter's --json output has a wait.started of kind lock"
has "$T/b2.wait" "$run_a2" "naming the holder run"

say "3. a SIGKILLed holder does not block the next run"
d3=$T/l3
mkdir -p "$d3"
bg_run a3 run "$W/deploy.lua" -p dir="$d3" -p tag=A
pa=$BG_PID
run_a3=$NEW_RUN
wait_until 30 "the holder's step to start" grep -q '^start A' "$d3/times"
"$SUMMIT" locks >"$T/locks3a.out"
has "$T/locks3a.out" "$run_a3" "summit locks lists the live holder"
kill -9 "$pa"
bg_wait "$pa"
eq "$RC" 137 "the holder was SIGKILLed"
kill_group "$d3/pid.A"   # its orphaned step (own process group)
sm b3 run "$W/deploy.lua" -p dir="$d3" -p tag=B -p secs=0
expect_rc 0 b3 "a new run right after (no --wait-lock) gets the lock"
has "$d3/times" "start B" "its step ran"

say "4. a suspended run keeps its lock until it is resumed to completion"
d4=$T/l4
mkdir -p "$d4"
sm p4 run "$W/paused.lua" -p dir="$d4" --detach
expect_rc 3 p4 "run --detach of a runbook that sleeps"
run_p4=$(newest_run)
expect_status "$run_p4" suspended "the sleeping run"
"$SUMMIT" locks >"$T/locks4.out"
has "$T/locks4.out" "env:production" "summit locks lists the environment lock"
has "$T/locks4.out" "$run_p4" "with the suspended holder run"
"$SUMMIT" locks --json >"$T/locks4.json"
held=$(py 'import json,sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    if o["run"] == sys.argv[2]:
        print(o.get("lock"), o.get("held")); break' "$T/locks4.json" "$run_p4")
eq "$held" "env:production True" "summit locks --json: env:production held by the suspended run"
sm b4 run "$W/deploy.lua" -p dir="$d4" -p tag=B -p secs=0
expect_rc 5 b4 "another run against production while it is suspended"
has "$T/b4.err" "$run_p4" "it names the suspended run"
sm r4 resume "$run_p4"
expect_rc 0 r4 "resume of the suspended run, to completion"
has "$d4/paused" "after" "the resumed run finished its last step"
sm c4 run "$W/deploy.lua" -p dir="$d4" -p tag=C -p secs=0
expect_rc 0 c4 "a run against production after the suspended one completed"
"$SUMMIT" locks --json >"$T/locks4b.json"
hasnt "$T/locks4b.json" "env:production" "no environment lock is left behind"

say "4b. environment = true locks the --env one; cancelling a suspended holder frees the lock"
cat >"$W/selected.lua" <<'EOF'
return runbook {
  name = "deploy-selected",
  environment = true,
  run = function() step("noop", function() return env.name end) end,
}
EOF
sm p4b run "$W/paused.lua" -p dir="$d4" --detach
expect_rc 3 p4b "another suspended run against production"
run_p4b=$(newest_run)
sm sel1 run "$W/selected.lua" --env production
expect_rc 5 sel1 "environment = true with --env production while production is held"
has "$T/sel1.err" "$run_p4b" "it names the holder"
sm sel2 run "$W/selected.lua" --env staging
expect_rc 0 sel2 "environment = true with --env staging (not held)"
sm sel3 run "$W/selected.lua"
expect_rc 2 sel3 "environment = true without --env"
sm can4b cancel "$run_p4b"
expect_rc 0 can4b "summit cancel of the suspended holder"
sm sel4 run "$W/selected.lua" --env production
expect_rc 0 sel4 "production is free once the suspended holder was cancelled"

say "5. lock(name, fn, { timeout }) in two concurrent runs: they serialize"
d5=$T/l5
mkdir -p "$d5"
bg_start m5a run "$W/migrate.lua" -p dir="$d5" -p tag=X -p timeout=30s -p secs=1.5 --json
pa=$BG_PID
bg_start m5b run "$W/migrate.lua" -p dir="$d5" -p tag=Y -p timeout=30s -p secs=1.5 --json
pb=$BG_PID
bg_wait "$pa"
expect_rc 0 m5a "the first migrate run"
bg_wait "$pb"
expect_rc 0 m5b "the second migrate run"
order=$(no_overlap "$d5/mtimes" X Y) || die "the two locked sections overlap: $order"
ok "the locked sections did not overlap ($order)"
cat "$T/m5a.out" "$T/m5b.out" | grep '"event":"wait.started"' >"$T/m5.wait" || true
has "$T/m5.wait" '"kind":"lock"' "one of them waited for the lock (wait.started, kind lock)"
has "$T/m5.wait" "db-migrations" "naming the lock"
# A lock() whose timeout runs out while another run holds it.
d5t=$T/l5t
mkdir -p "$d5t"
bg_start m5h run "$W/migrate.lua" -p dir="$d5t" -p tag=H -p timeout=30s -p secs=2
ph=$BG_PID
wait_until 30 "the holder to enter its locked section" grep -q '^start H' "$d5t/mtimes"
holder=$(newest_run)
sm m5t run "$W/migrate.lua" -p dir="$d5t" -p tag=T -p timeout=500ms --json
expect_rc 1 m5t "a run whose lock() times out"
grep '"event":"run.finished"' "$T/m5t.out" >"$T/m5t.fin" || true
has "$T/m5t.fin" "ETIMEDOUT" "the run fails with ETIMEDOUT"
has "$T/m5t.fin" "db-migrations" "naming the lock"
has "$T/m5t.fin" "$holder" "and the holder run"
bg_wait "$ph"
expect_rc 0 m5h "the holder"
hasnt "$d5t/mtimes" "start T" "the timed-out run never entered the locked section"

# A SIGKILLed lock() holder does not block the next run's lock().
d5k=$T/l5k
mkdir -p "$d5k"
bg_start m5k run "$W/migrate.lua" -p dir="$d5k" -p tag=K -p timeout=30s -p secs=20
pk=$BG_PID
wait_until 30 "the holder to enter its locked section" grep -q '^start K' "$d5k/mtimes"
kill -9 "$pk"
bg_wait "$pk"
eq "$RC" 137 "the lock() holder was SIGKILLed"
kill_group "$d5k/pid.K"
sm m5z run "$W/migrate.lua" -p dir="$d5k" -p tag=Z -p timeout=5s -p secs=0
expect_rc 0 m5z "a lock() after its holder was SIGKILLed (timeout 5s)"
has "$d5k/mtimes" "end Z" "its locked section ran"

say "6. lock(name, fn) without a timeout: the second run waits, it does not fail"
d6=$T/l6
mkdir -p "$d6"
bg_start m6a run "$W/migrate.lua" -p dir="$d6" -p tag=X -p secs=1.5 --json
pa=$BG_PID
bg_start m6b run "$W/migrate.lua" -p dir="$d6" -p tag=Y -p secs=1.5 --json
pb=$BG_PID
bg_wait "$pa"
rca=$RC
bg_wait "$pb"
rcb=$RC
if [[ "$rca $rcb" != "0 0" ]]; then show m6a m6b; fi
soft_eq "$rca $rcb" "0 0" "lock() without a timeout: exit codes of the two concurrent runs"
order=$(no_overlap "$d6/mtimes" X Y 2>&1) || true
soft_eq "$(grep -c '^start' "$d6/mtimes" 2>/dev/null || true)" 2 "lock() without a timeout: both locked sections ran"
if [[ $order == *" then "* ]]; then
  ok "the locked sections did not overlap ($order)"
else
  soft_eq "$order" "X then Y|Y then X" "lock() without a timeout: the sections serialize"
fi

