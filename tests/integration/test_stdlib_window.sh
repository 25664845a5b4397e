#!/usr/bin/env bash
# Issue 7 / summit.window: deployment windows and freeze calendars.
#
#  1. The window math at fixed instants (opts.at, computed here by the C
#     library's mktime under TZ=UTC, independent of window.lua's own date
#     math): weekday windows, the weekend as a week boundary, a window past
#     midnight (Fri 22:00-02:00), a freeze with a bare end date (inclusive),
#     an environment that replaces allow and adds its own freeze, a named
#     zone with DST (Europe/Berlin, winter and summer) and a fixed offset.
#  2. A bad summit.lua windows entry is an error naming the key.
#  3. window.require inside a freeze (now()): refused (EWINDOW, exit 1)
#     without an override; with override_gate and a justification the run
#     waits on the gate, a named approver approves with `summit approve`,
#     the resumed run goes on, and the audit trail holds window.override
#     with the justification and the approver. An empty justification is
#     refused.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
export TZ=UTC

[[ -f /usr/share/zoneinfo/Europe/Berlin || -n ${TZDIR:-} ]] ||
  die "the tzdata package is needed (Europe/Berlin is used as a named zone)"

cd "$T/wd"
cat >summit.lua <<'CFG'
return {
  windows = {
    allow = { { days = { "mon", "tue", "wed", "thu", "fri" }, from = "09:00", to = "17:00" } },
    deny = { { from = "2026-12-20", to = "2027-01-04", reason = "year-end freeze" } },
  },
  environments = {
    staging = { windows = { timezone = "+05:30" } },
    anytime = { windows = { allow = {} } },
    production = { windows = {
      timezone = "Europe/Berlin",
      allow = {
        { days = { "tue", "wed", "thu" }, from = "10:00", to = "15:00" },
        { days = { "fri" }, from = "22:00", to = "02:00", name = "friday night" },
      },
      deny = { { from = "2026-11-26 18:00", to = "2026-11-30 06:00", reason = "black friday", name = "bf" } },
    } },
  },
}
CFG

say "1. window math at fixed instants"
cat >math.lua <<'RB'
local window = require("summit.window")
local function utc(y, m, d, h, mi)
  return os.time{ year = y, month = m, day = d, hour = h, min = mi, sec = 0 }   -- TZ=UTC
end
local function expect(env, at, allowed, next_open, text)
  local ok, reason, nx, detail = window.check(env, { at = at })
  local where = string.format("%s at %s: %s", tostring(env), os.date("!%Y-%m-%d %H:%M", at), reason)
  assert(ok == allowed, where)
  assert(nx == next_open, where .. " (next " .. tostring(nx and os.date("!%Y-%m-%d %H:%M", nx)) .. ")")
  if text then assert(reason:find(text, 1, true), where .. " lacks " .. text) end
  assert(detail.allowed == allowed)
  log.info("%s", where)
end
return runbook {
  name = "window-math", version = "1.0.0",
  run = function()
    -- top level, UTC, Mon-Fri 09-17
    expect(nil, utc(2026, 11, 25, 10, 0), true, nil, "inside window mon,tue,wed,thu,fri 09:00-17:00")
    expect(nil, utc(2026, 11, 25, 17, 0), false, utc(2026, 11, 26, 9, 0), "outside the deployment windows")
    expect(nil, utc(2026, 11, 27, 17, 30), false, utc(2026, 11, 30, 9, 0), "next opening 2026-11-30 mon 09:00 UTC")
    expect(nil, utc(2026, 11, 29, 23, 59), false, utc(2026, 11, 30, 9, 0))
    expect(nil, utc(2026, 11, 30, 8, 59), false, utc(2026, 11, 30, 9, 0))
    -- the freeze: 2026-12-20 to 2027-01-04 inclusive; 2027-01-05 is a Tuesday
    expect(nil, utc(2026, 12, 22, 10, 0), false, utc(2027, 1, 5, 9, 0), "inside freeze (2026-12-20 to 2027-01-04): year-end freeze")
    expect(nil, utc(2027, 1, 4, 23, 59), false, utc(2027, 1, 5, 9, 0))
    expect(nil, utc(2027, 1, 5, 9, 0), true, nil)
    expect(nil, utc(2026, 12, 18, 16, 59), true, nil)
    -- staging: the top level's windows at +05:30 (09:00 there is 03:30 UTC)
    expect("staging", utc(2026, 11, 30, 3, 29), false, utc(2026, 11, 30, 3, 30), "08:59 +05:30")
    expect("staging", utc(2026, 11, 30, 3, 30), true, nil)
    expect("staging", utc(2026, 12, 22, 5, 0), false, utc(2027, 1, 5, 3, 30))
    -- allow = {} lifts the weekly windows, not the freezes
    expect("anytime", utc(2026, 11, 28, 3, 0), true, nil, "no window or freeze applies")
    expect("anytime", utc(2026, 12, 25, 3, 0), false, utc(2027, 1, 5, 0, 0), "year-end freeze")
    -- production: Europe/Berlin (CET +01:00 in winter, CEST +02:00 in summer)
    expect("production", utc(2026, 12, 1, 9, 30), true, nil, "10:30 +01:00")
    expect("production", utc(2026, 12, 1, 8, 30), false, utc(2026, 12, 1, 9, 0))
    expect("production", utc(2026, 6, 2, 8, 30), true, nil, "10:30 +02:00")
    expect("production", utc(2026, 6, 2, 7, 30), false, utc(2026, 6, 2, 8, 0))
    -- the window past midnight belongs to Friday, and runs into Saturday
    expect("production", utc(2026, 12, 4, 22, 30), true, nil, "friday night")
    expect("production", utc(2026, 12, 5, 0, 30), true, nil, "sat 01:30")
    expect("production", utc(2026, 12, 5, 1, 30), false, utc(2026, 12, 8, 9, 0), "2026-12-08 tue 10:00 +01:00")
    -- production's own freeze, in local time, inside the friday window
    expect("production", utc(2026, 11, 27, 21, 30), false, utc(2026, 12, 1, 9, 0), "inside freeze 'bf'")
    -- and the top level's freeze still applies (deny lists add up)
    expect("production", utc(2026, 12, 23, 10, 0), false, utc(2027, 1, 5, 9, 0), "year-end freeze")
    -- after the zone file's last transition (2037), its POSIX rule
    expect("production", utc(2040, 6, 5, 8, 30), true, nil, "2040-06-05 tue 10:30 +02:00")
    expect("production", utc(2040, 6, 5, 7, 30), false, utc(2040, 6, 5, 8, 0))
    expect("production", utc(2040, 12, 4, 8, 30), false, utc(2040, 12, 4, 9, 0), "09:30 +01:00")
    -- the rule agrees with the transition table wherever both exist
    for _, name in ipairs({ "Europe/Berlin", "America/New_York", "Australia/Sydney", "America/Sao_Paulo" }) do
      local z = window._zone(name)
      assert(z and z.rule, name .. ": no POSIX rule parsed")
      for t = utc(2024, 1, 1, 0, 0), utc(2037, 1, 1, 0, 0), 3 * 3600 do
        local a, b = window._offset(z, t), window._rule_offset(z.rule, t)
        if a ~= b then error(string.format("%s at %s: table %d, rule %d", name, os.date("!%c", t), a, b)) end
      end
    end
    -- Sydney in the southern summer of 2045 is on daylight time (+11:00)
    local syd = window._zone("Australia/Sydney")
    assert(window._offset(syd, utc(2045, 1, 15, 0, 0)) == 11 * 3600)
    assert(window._offset(syd, utc(2045, 7, 15, 0, 0)) == 10 * 3600)
    -- misuse
    local ok, e = pcall(function() local r = window.check("nowhere"); return r end)
    assert(not ok and tostring(e):find("window.check: bad argument 'env' (unknown environment 'nowhere'", 1, true), tostring(e))
    ok, e = pcall(function() local r = window.check(nil, { at = "today" }); return r end)
    assert(not ok and tostring(e):find("math.lua:%d+: window.check: bad argument 'at'"), tostring(e))
  end,
}
RB
sm math run math.lua
expect_rc 0 math "every window decision is as computed by hand"
has "$T/math.out" "inside freeze (2026-12-20 to 2027-01-04): year-end freeze" "the reason names the freeze"

cat >wait.lua <<'RB'
local window = require("summit.window")
return runbook { name = "window-wait", version = "1.0.0", run = function()
  -- Tue 2026-12-01 09:59 in Berlin: production opens at 10:00, 60 s later.
  window.wait("production", { at = os.time{ year = 2026, month = 12, day = 1, hour = 8, min = 59, sec = 0 } })
  window.wait("production", { at = os.time{ year = 2026, month = 12, day = 1, hour = 9, min = 30, sec = 0 } })
end }
RB
sm wait run wait.lua --time-scale 60
expect_rc 0 wait "window.wait sleeps until the window opens"
eq "$(grep -c 'sleep until' "$T/wait.out")" 1 "one durable sleep, none when already open"

say "2. a bad windows entry names the key"
mkdir -p bad && cat >bad/summit.lua <<'CFG'
return { windows = { allow = { { days = { "mon", "mnday" } } } } }
CFG
cat >bad/check.lua <<'RB'
local window = require("summit.window")
return runbook { name = "bad-window", version = "1.0.0", run = function()
  local ok = window.check()
  return ok
end }
RB
cd bad
sm bad run check.lua
expect_rc 2 bad "a bad windows entry stops the run before it starts"
has "$T/bad.err" "summit.lua:1: windows.allow[1].days[2]: 'mnday' is not a day" "the error names the key and line"
cat >summit.lua <<'CFG'
return {
  environments = {
    prod = { windows = {
      timezone = "Mars/Olympus_Mons",
      deny = { { from = "2026-02-30", to = "2026-03-02", reason = "x" } } } },
    dev = { windows = { deny = { { from = "2026-03-01", to = "2026-03-02" } } } },
  },
}
CFG
sm bad2 run check.lua
expect_rc 2 bad2 "bad environment windows"
has "$T/bad2.err" "environments.prod.windows.deny[1].from: no such date: 2026-02-30" "an impossible date"
has "$T/bad2.err" "environments.dev.windows.deny[1].reason: a reason is required" "a freeze without a reason"
cat >summit.lua <<'CFG'
return { environments = { prod = { windows = { timezone = "Mars/Olympus_Mons" } } } }
CFG
sm bad3 run check.lua
expect_rc 2 bad3 "an unknown time zone"
has "$T/bad3.err" "environments.prod.windows.timezone: 'Mars/Olympus_Mons': no such time zone in" "is named"
cd ..

say "3. window.require in a freeze, then an override approval"
mkdir -p freeze && cd freeze
cat >summit.lua <<'CFG'
return {
  environments = { prod = { windows = {
    deny = { { from = "2020-01-01", to = "2099-12-31", reason = "change freeze for the audit" } } } } },
  approvers = { alice = { "platform-lead" }, bob = { "developer" } },
}
CFG
cat >deploy.lua <<'RB'
local window = require("summit.window")
return runbook {
  name = "window-deploy", version = "1.0.0",
  params = { override = { type = "boolean", default = false }, justification = { type = "string" } },
  run = function(p)
    local d = window.require("prod", p.override and {
      override_gate = "freeze-override", justification = p.justification, roles = { "platform-lead" },
    } or nil)
    step("deploy", function()
      log.info("deploying: overridden=%s approvers=%s", tostring(d.overridden), json.encode(d.approvers or {}))
    end)
  end,
}
RB
sm f1 run deploy.lua
expect_rc 1 f1 "refused inside the freeze without an override"
has "$T/f1.out" "EWINDOW: prod: inside freeze (2020-01-01 to 2099-12-31): change freeze for the audit" "the refusal gives the freeze"
has "$T/f1.out" "no opening within 400 days" "and says when it opens"
hasnt "$T/f1.out" "ok deploy" "nothing was deployed"

sm f2 run deploy.lua -p override=true -p justification="   "
expect_rc 1 f2 "an override without a justification is refused"
has "$T/f2.out" "an override needs a justification" "the refusal says why"

sm f3 run deploy.lua --detach -p override=true -p justification="CVE-2026-1234 fix, approved by the CISO"
expect_rc 3 f3 "with a justification the run waits on the override gate"
run=$(newest_run)
has "$T/f3.out" "approve with: summit approve $run --gate freeze-override" "the gate is announced"
SUMMIT_USER=bob sm nb approve "$run" --gate freeze-override
expect_rc 1 nb "someone without the role cannot override"
SUMMIT_USER=alice sm ok approve "$run" --gate freeze-override --comment "ok, CVE"
expect_rc 0 ok "a platform lead approves the override"
sm f4 resume "$run"
expect_rc 0 f4 "the resumed run deploys"
"$SUMMIT" audit show "$run" >"$T/audit.out"
has "$T/audit.out" "window.override" "the override is audited"
has "$T/audit.out" "CVE-2026-1234 fix, approved by the CISO" "with the justification"
has "$T/audit.out" 'approvers=["alice"] env=prod' "and who approved it"
has "$T/f4.out" 'deploying: overridden=true approvers=["alice"]' "the runbook saw the override and who gave it"
