#!/usr/bin/env bash
# Issue 7 / summit.checklist: automatic items answered by checks, manual
# items acknowledged by named people through approval gates.
#
#  1. One gate for the list: the automatic items run first (a function, a
#     command spec, a configured command), then the run waits (--detach,
#     exit 3) on the checklist gate; `runs --waiting` names the items; the
#     starter cannot acknowledge; alice does with `summit approve`; the
#     resumed run succeeds; the audit trail has one checklist.ack per
#     manual item by alice with her comment, and the result says who
#     checked what.
#  2. An item with its own roles gets its own gate: two people, two gates.
#  3. A failing automatic item fails the checklist naming it, before
#     anyone is asked (no gate opens). Misuse names the argument.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

cd "$T/wd"
cat >summit.lua <<'CFG'
return {
  commands = { tests = { "sh", "-c", "echo all tests passed" } },
  approvers = { alice = { "senior-engineer" }, carol = { "platform-lead" } },
}
CFG
cat >pre.lua <<'RB'
local checklist = require("summit.checklist")
return runbook {
  name = "pre", version = "1.0.0",
  params = { broken = { type = "boolean", default = false }, own_gate = { type = "boolean", default = false } },
  run = function(p)
    local items = {
      { "working tree is clean", check = function() return not p.broken end },
      { "tests pass", check = { command = "tests", contains = "passed" } },
      { "disk has room", check = { argv = { "true" } } },
      "on-call engineer notified",
      { "rollback plan reviewed", roles = p.own_gate and { "platform-lead" } or nil },
    }
    local r = checklist.run("pre-deployment", items, { roles = { "senior-engineer" } })
    step("report", function()
      for _, it in ipairs(r.items) do
        log.info("checked: %s | %s | by %s | %s", it.item, it.kind, tostring(it.by), tostring(it.comment))
      end
    end)
  end,
}
RB

say "1. one gate for the list"
sm c1 run pre.lua --detach
expect_rc 3 c1 "the run waits for the acknowledgements"
run=$(newest_run)
has "$T/c1.out" "ok working tree is clean" "the automatic items ran first"
has "$T/c1.out" "ok tests pass" "the configured command answered one"
sm w runs --waiting
has "$T/w.out" "acknowledge on-call engineer notified; rollback plan reviewed" "the gate names the manual items"
has "$T/w.out" "summit approve $run --gate checklist-pre-deployment" "and the command"
sm self approve "$run" --gate checklist-pre-deployment
expect_rc 1 self "the starter cannot acknowledge their own run"
SUMMIT_USER=alice sm a approve "$run" --gate checklist-pre-deployment --comment "paged bob, plan in the wiki"
expect_rc 0 a "alice acknowledges"
sm c2 resume "$run"
expect_rc 0 c2 "the checklist completes"
has "$T/c2.out" "checked: on-call engineer notified | manual | by alice | paged bob, plan in the wiki" "the result says who acknowledged"
has "$T/c2.out" "checked: tests pass | auto | by summit" "and what summit checked"
"$SUMMIT" audit show "$run" >"$T/audit.out"
eq "$(grep -c 'checklist.ack' "$T/audit.out")" 2 "one checklist.ack per manual item"
has "$T/audit.out" 'by=alice' "recorded by alice"
has "$T/audit.out" 'item="on-call engineer notified"' "naming the item"

say "2. an item with its own roles has its own gate"
sm d1 run pre.lua --detach -p own_gate=true
expect_rc 3 d1 "waits"
run=$(newest_run)
SUMMIT_USER=alice sm da approve "$run" --gate checklist-pre-deployment/rollback-plan-reviewed
expect_rc 1 da "alice lacks the item's role"
SUMMIT_USER=carol sm dc approve "$run" --gate checklist-pre-deployment/rollback-plan-reviewed
expect_rc 0 dc "carol acknowledges the rollback plan"
sm d2 resume "$run" --detach
expect_rc 3 d2 "then the list's gate waits"
SUMMIT_USER=alice sm db approve "$run" --gate checklist-pre-deployment
expect_rc 0 db "alice acknowledges the rest"
sm d3 resume "$run"
expect_rc 0 d3 "the checklist completes"
has "$T/d3.out" "checked: rollback plan reviewed | manual | by carol" "each item names its own person"
has "$T/d3.out" "checked: on-call engineer notified | manual | by alice" "and the list's gate its approver"

say "3. a failing automatic item"
sm e1 run pre.lua --detach -p broken=true
expect_rc 1 e1 "the checklist fails"
has "$T/e1.out" "checklist 'pre-deployment': 1 automatic item failed: working tree is clean" "naming the item"
hasnt "$T/e1.out" "approve with" "nobody was asked"

cat >misuse.lua <<'RB'
local checklist = require("summit.checklist")
return runbook { name = "misuse", version = "1.0.0", run = function()
  local ok, e = pcall(function() local r = checklist.run("x", { { "a", check = 42 } }); return r end)
  assert(not ok and tostring(e):find("misuse.lua:%d+: checklist.run: bad argument 'items%[1%]%.check'"), tostring(e))
  ok, e = pcall(function() local r = checklist.run("x", { "a", "a" }); return r end)
  assert(not ok and tostring(e):find("'a' appears twice", 1, true), tostring(e))
end }
RB
sm m run misuse.lua
expect_rc 0 m "misuse raises at once naming the argument"
