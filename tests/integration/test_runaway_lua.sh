#!/usr/bin/env bash
# Issue 12 item 2 / Lua that never yields can be stopped (docs/authoring.md
# "Runaway Lua"). Every summit here is bounded (sm's timeout, bg_done's),
# so a hang fails the test instead of holding CI.
#
#  1. A step spinning in Lua with timeout = "2s" fails ETIMEDOUT (exit 1),
#     the step is journaled failed; with retries = 1 it is tried twice.
#  2. The same step wrapped in a runbook's pcall loop is still stopped.
#  3. SIGTERM and SIGINT to a spinning run: exit 130, status interrupted,
#     the spinning step left in flight; resume --upgrade of a fixed file
#     succeeds without re-running the first step.
#  4. summit cancel from another process of a spinning run (a pcall loop):
#     the run exits 4, status cancelled; cancel exits 0 and reports it;
#     with --rollback the undo of the step before runs (rolled_back).
#     A spinning parallel branch is held to its step's timeout too.
#  5. The memory cap: ("x"):rep(1e9) fails the step ENOMEM naming the cap
#     (exit 1), a slow leak too (under a 64MiB cap); status and audit
#     verify work after; limits.memory in summit.lua sets the cap.
#  6. A runbooks/ directory with a file whose top level loops forever (and
#     one that loops inside pcall): summit runbooks lists the others and
#     names the bad files; summit run NAME and validate of a good one work.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
SM_TIMEOUT=40

cd "$T/wd"
cat >spin.lua <<'EOF2'
return runbook {
  name = "spin", version = "1.0.0",
  params = {
    mode = { type = "string", default = "plain", enum = { "plain", "pcall" } },
    timeout = { type = "string", default = "" },
    retries = { type = "number", default = 0 },
  },
  run = function(p)
    step("first", function() return 1 end)
    step{ "spin", function()
      if p.mode == "pcall" then
        while true do pcall(function() while true do end end) end
      end
      while true do end
    end, timeout = p.timeout ~= "" and p.timeout or nil, retries = p.retries,
      backoff = { initial = 10, fixed = true } }
    step("after", function() return 3 end)
  end,
}
EOF2

# bg_done PID SECS: waits up to SECS for a background summit; a summit
# still running then is killed and the test fails.
bg_done() {
  local pid=$1 secs=$2 deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS > deadline)); then
      kill -9 "$pid" 2>/dev/null || true
      bg_wait "$pid"
      die "summit (pid $pid) was still running ${secs}s later (it ignored what should stop it)"
    fi
    sleep 0.05
  done
  bg_wait "$pid"
}

# spinning RUN: the run's step 2 (spin) has started.
spinning() { [[ $(entry_field "$1" 2 state) == started ]]; }

say "1. a spinning step with a 2s timeout fails ETIMEDOUT"
sm t1 run spin.lua -p timeout=2s
expect_rc 1 t1 "spin with timeout"
has "$T/t1.out" "ETIMEDOUT" "the run's error is ETIMEDOUT"
run=$(newest_run)
eq "$(entry_field "$run" 2 state)" failed "the spin step is journaled failed"
eq "$(entry_field "$run" 3 state)" "<no entry>" "the step after it never ran"
sm t1r run spin.lua -p timeout=1s -p retries=1
expect_rc 1 t1r "spin with timeout and one retry"
eq "$(entry_field "$(newest_run)" 2 attempt)" 2 "the timed-out step was retried once"

say "2. a runbook's pcall cannot swallow the timeout"
sm t2 run spin.lua -p timeout=1s -p mode=pcall
expect_rc 1 t2 "pcall-wrapped spin with timeout"
has "$T/t2.out" "ETIMEDOUT" "the error is still ETIMEDOUT"

say "3. SIGTERM and SIGINT stop a spinning run, which stays resumable"
for sig in TERM INT; do
  bg_run "sig$sig" run spin.lua -p mode=pcall
  pid=$BG_PID
  wait_until 20 "the spin step to start" spinning "$NEW_RUN"
  kill -"$sig" "$pid"
  bg_done "$pid" 20
  eq "$RC" 130 "SIG$sig: exit 130"
  expect_status "$NEW_RUN" interrupted "SIG$sig"
  eq "$(entry_field "$NEW_RUN" 2 state)" started "SIG$sig: the spin step is left in flight"
done
cp spin.lua spin.orig
sed -i -e 's/while true do pcall(function() while true do end end) end/return 2/' \
  -e 's/^      while true do end$/      return 2/' spin.lua
sm t3r resume "$NEW_RUN" --upgrade
expect_rc 0 t3r "resume --upgrade of the interrupted run"
eq "$(entry_field "$NEW_RUN" 1 attempt)" 1 "the first step was not run again"
eq "$(entry_field "$NEW_RUN" 3 state)" completed "the step after the spin ran"
cp spin.orig spin.lua

say "4. summit cancel stops a spinning run"
bg_run cancelrun run spin.lua -p mode=pcall
pid=$BG_PID
wait_until 20 "the spin step to start" spinning "$NEW_RUN"
sm cancel cancel "$NEW_RUN"
expect_rc 0 cancel "summit cancel"
has "$T/cancel.out" "is cancelled" "cancel saw the run stop"
bg_done "$pid" 20
eq "$RC" 4 "the cancelled run exits 4"
expect_status "$NEW_RUN" cancelled "after summit cancel"

say "4b. summit cancel --rollback of a spinning run runs the undo"
cat >undo.lua <<'EOF2'
return runbook {
  name = "spin-undo", version = "1.0.0",
  params = { dir = { type = "string", required = true } },
  run = function(p)
    step{ "first", function() return 1 end, undo = function()
      exec({ "sh", "-c", 'echo undone >> "$1"', "sh", p.dir .. "/trace" })
    end }
    step("spin", function() while true do pcall(function() while true do end end) end end)
  end,
}
EOF2
mkdir -p "$T/u"
bg_run undorun run undo.lua -p dir="$T/u"
pid=$BG_PID
wait_until 20 "the spin step to start" spinning "$NEW_RUN"
sm cancelrb cancel "$NEW_RUN" --rollback
expect_rc 0 cancelrb "summit cancel --rollback"
bg_done "$pid" 20
eq "$RC" 4 "the rolled-back run exits 4"
expect_status "$NEW_RUN" rolled_back "after cancel --rollback"
eq "$(cat "$T/u/trace" 2>/dev/null)" undone "the undo of the first step ran once"

say "4c. a spinning parallel branch is held to its step's timeout"
cat >par.lua <<'EOF2'
return runbook {
  name = "spin-par", version = "1.0.0",
  run = function()
    step{ "fan", function()
      return parallel{ function() while true do end end, function() sleep("1h") end }
    end, timeout = "1s" }
  end,
}
EOF2
sm par run par.lua
expect_rc 1 par "a spinning branch under a 1s step timeout"
has "$T/par.out" "ETIMEDOUT" "the step fails ETIMEDOUT"

say "5. the memory cap"
cat >mem.lua <<'EOF2'
return runbook {
  name = "mem", version = "1.0.0",
  params = { mode = { type = "string", default = "rep" } },
  run = function(p)
    step("first", function() return 1 end)
    step("big", function()
      if p.mode == "leak" then
        local t = {}
        for i = 1, 1e9 do t[i] = ("x"):rep(100) .. i end
      end
      return #(("x"):rep(1e9))
    end)
  end,
}
EOF2
sm m1 run mem.lua
expect_rc 1 m1 "rep(1e9) under the default cap"
has "$T/m1.out" "ENOMEM: the run's Lua memory would exceed its cap of 1 GiB" "the error names the cap"
has "$T/m1.out" "limits.memory" "the error says how to raise it"
run=$(newest_run)
eq "$(entry_field "$run" 2 state)" failed "the big step is journaled failed"
SUMMIT_LUA_MEMORY=64MiB sm m2 run mem.lua -p mode=leak
expect_rc 1 m2 "a slow leak under a 64MiB cap"
has "$T/m2.out" "cap of 64 MiB" "the leak fails with the cap named"
sm m2s status "$(newest_run)"
expect_rc 0 m2s "summit status after the leak"
echo 'return { limits = { memory = "32MiB" } }' >summit.lua
sm m3 run mem.lua
expect_rc 1 m3 "limits.memory in summit.lua"
has "$T/m3.out" "cap of 32 MiB" "summit.lua's cap is the one named"
echo 'return { limits = { memory = "lots" } }' >summit.lua
sm m4 run mem.lua
expect_rc 2 m4 "a bad limits.memory is a usage error"
has "$T/m4.err" "limits.memory" "it names the key"
rm summit.lua
sm audit audit verify
expect_rc 0 audit "audit verify after the failures"

say "6. a runbook file that loops at its top level does not hang the catalog"
mkdir -p cat/runbooks
cd cat
cat >runbooks/a.lua <<'EOF2'
return runbook { name = "alpha", version = "1.0.0", run = function() return "a" end }
EOF2
printf 'local n = 0\nwhile true do n = n + 1 end\n' >runbooks/b.lua
printf 'while true do pcall(function() while true do end end) end\n' >runbooks/c.lua
cat >runbooks/d.lua <<'EOF2'
return runbook { name = "delta", version = "1.0.0", run = function() return "d" end }
EOF2
echo 'return { limits = { load = "1s" } }' >summit.lua
sm c1 runbooks
expect_rc 2 c1 "summit runbooks with two endless files"
has "$T/c1.out" "alpha" "alpha is listed"
has "$T/c1.out" "delta" "delta is listed"
has "$T/c1.err" "runbooks/b.lua:2: still running after 1000 ms" "b.lua is named with its line"
has "$T/c1.err" "runbooks/c.lua:1: still running" "c.lua (pcall loop) is named"
sm c2 run delta
expect_rc 0 c2 "summit run NAME of a good runbook"
sm c3 validate runbooks/a.lua
expect_rc 0 c3 "summit validate of a good runbook"
sm c4 validate runbooks/b.lua
expect_rc 2 c4 "summit validate of the endless file"
has "$T/c4.err" "still running after" "validate names the problem"
rm summit.lua
SUMMIT_LOAD_TIMEOUT=500ms sm c5 runbooks
expect_rc 2 c5 "SUMMIT_LOAD_TIMEOUT sets the budget"
has "$T/c5.err" "still running after 500 ms" "the env budget is the one applied"
