-- runbooks/hotfix.lua, tested with summit test (docs/testing.md).
local t = require("summit.test")

local JUSTIFICATION = "CVE-2026-1234: logins bypass the second factor"

t.case("a hotfix goes straight to production with an emergency approval", function(ctx)
  local run = ctx:run("hotfix", { version = "v1.0.1", justification = JUSTIFICATION },
                      { approve = { emergency = "alice" } })
  t.eq(run.status, "succeeded", "the run")
  t.eq(ctx:image("summit-staging", "web"), "registry/web:v1.0.1", "staging first")
  t.eq(ctx:image("summit-production", "web"), "registry/web:v1.0.1", "production's image")
  local result = run:result()
  t.eq(result.approvers, { "alice" }, "the emergency approvers")
  t.eq(result.verify, "passed", "the immediate verification")
  local approved = run:audit("release.hotfix_approved")
  t.ok(approved, "the approval is audited")
  t.has(approved.detail.justification, "CVE-2026-1234", "with the justification")
end)

t.case("only a platform lead can approve the emergency gate", function(ctx)
  local run = ctx:run("hotfix", { version = "v1.0.1", justification = JUSTIFICATION })
  t.eq(run.status, "suspended", "waiting at the gate")
  t.eq(run:info().waits[1].gate, "emergency", "the gate")
  local code, out = run:approve("emergency", "bob")
  t.eq(code, 1, "bob's approval is refused")
  t.has(out, "platform-lead", "saying which role it needs")
  t.eq(run:approve("emergency", "alice"), 0, "alice approves")
  run:resume()
  t.eq(run.status, "succeeded", "the run")
end)

t.case("a hotfix that breaks staging stops there", function(ctx)
  local run = ctx:run("hotfix", { version = "v1.0.1-broken", justification = JUSTIFICATION },
                      { approve = { emergency = "alice" } })
  t.eq(run.status, "failed", "the run")
  t.eq(ctx:image("summit-production", "web"), "registry/web:v1.0.0", "production untouched")
  t.eq(run:info().waits[1], nil, "no gate was opened")
end)
