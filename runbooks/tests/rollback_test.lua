-- runbooks/rollback.lua, tested with summit test (docs/testing.md): each
-- case first deploys v2.0.0 (the deploy runbook, its slow phases skipped),
-- then rolls production back.
local t = require("summit.test")

local function deploy_v2(ctx)
  local run = ctx:run("deploy", { version = "v2.0.0", skip = "checklist,canary,verify,finalize",
                                  strategy = "rolling" },
                      { approve = { production = { "alice", "bob" } } })
  t.eq(run.status, "succeeded", "the deploy of v2.0.0")
  t.eq(ctx:image("summit-production", "web"), "registry/web:v2.0.0", "production runs v2.0.0")
end

t.case("rollback puts back the previous revision", function(ctx)
  deploy_v2(ctx)
  local run = ctx:run("rollback", { environment = "production", reason = "v2 breaks logins" })
  t.eq(run.status, "succeeded", "the rollback")
  t.eq(ctx:image("summit-production", "web"), "registry/web:v1.0.0", "production runs v1.0.0 again")
  local record = run:audit("rollback")
  t.ok(record, "the rollback is audited")
  t.has(record.detail.reason, "v2 breaks logins", "with its reason")
end)

t.case("rollback to a version names it by its tag", function(ctx)
  deploy_v2(ctx)
  local run = ctx:run("rollback", { environment = "production", revision = "v1.0.0" })
  t.eq(run.status, "succeeded", "the rollback")
  t.eq(ctx:image("summit-production", "web"), "registry/web:v1.0.0", "production runs v1.0.0")
end)

t.case("a version that never ran is refused, nothing touched", function(ctx)
  deploy_v2(ctx)
  local run = ctx:run("rollback", { environment = "production", revision = "v9.9.9" })
  t.eq(run.status, "failed", "the rollback")
  t.has(run:output(), "v9.9.9", "the error names the version")
  t.eq(ctx:image("summit-production", "web"), "registry/web:v2.0.0", "production still runs v2.0.0")
end)

t.case("killed in the middle of the undo, resumed", function(ctx)
  deploy_v2(ctx)
  local run = ctx:run("rollback", { environment = "production" }, { kill_at = 6 })
  t.eq(run.status, "killed", "the rollback was killed")
  run:resume()
  t.eq(run.status, "succeeded", "the resumed rollback")
  t.eq(ctx:image("summit-production", "web"), "registry/web:v1.0.0", "production runs v1.0.0")
end)
