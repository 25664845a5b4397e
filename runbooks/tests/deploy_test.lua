-- runbooks/deploy.lua, tested with summit test (docs/testing.md): a clean
-- deploy, a bad image, a canary with a high error rate, a slow rollout, a
-- rejected gate, and a kill at journal records along the way.
local t = require("summit.test")

-- Who answers each gate: carol acknowledges the checklist, alice approves
-- the canary, alice and bob production.
local APPROVERS = { ["checklist-pre-deployment"] = "carol", canary = "alice", production = { "alice", "bob" } }

t.case("a clean deploy reaches production, approved by alice and bob", function(ctx)
  local started = ctx:now()
  local run = ctx:run("deploy", { version = "v2.0.0" }, { approve = APPROVERS })
  t.eq(run.status, "succeeded", "the run")
  t.eq(ctx:image("summit-production", "web"), "registry/web:v2.0.0", "production's image")
  t.eq(ctx:image("summit-staging", "web"), "registry/web:v2.0.0", "staging's image")
  t.eq(ctx:object("deployments", "summit-production", "web-canary"), nil, "no canary left")
  local prod = ctx:object("deployments", "summit-production", "web")
  t.eq(prod.status.readyReplicas, 20, "production's ready replicas")
  local result = run:result()
  t.eq(result.canary, "successful", "the canary verdict")
  t.eq(result.approvers, { "alice", "bob" }, "production's approvers")
  t.eq(result.verify, "passed", "the verification")
  -- Six canary rounds 5 minutes apart, 15-minute production steps and
  -- verification rounds: hours of simulated time, skipped.
  t.gt(ctx:now() - started, 90 * 60 * 1000, "ms passed on the clock")
  t.ok(run:entry("canary v2.0.0"), "the canary step is journaled")
end)

t.case("a bad image fails in staging and never reaches production", function(ctx)
  local run = ctx:run("deploy", { version = "v2.0.0-broken" }, { approve = APPROVERS })
  t.eq(run.status, "failed", "the run")
  t.eq(run:entry("staging: rollout status").state, "failed", "staging's rollout")
  t.eq(ctx:image("summit-staging", "web"), "registry/web:v1.0.0", "staging rolled back")
  t.eq(ctx:image("summit-production", "web"), "registry/web:v1.0.0", "production untouched")
end)

t.case("a canary with a high error rate is aborted", function(ctx)
  local run = ctx:run("deploy", { version = "v2.0.0" }, {
    approve = APPROVERS,
    -- this version answers 3% of requests with 500 (the limit is 0.5%)
    scenario = { metrics = { images = { ["registry/web:v2.0.0"] = { error_rate = 0.03 } } } },
  })
  -- the canary step failed and its undo put everything back
  t.eq(run.status, "rolled_back", "the run")
  t.eq(run:entry("canary v2.0.0").state, "failed", "the canary step")
  t.eq(ctx:object("deployments", "summit-production", "web-canary"), nil, "the canary is removed")
  t.eq(ctx:image("summit-production", "web"), "registry/web:v1.0.0", "production untouched")
end)

t.case("a slow rollout takes simulated time, not real time", function(ctx)
  local started = ctx:now()
  local run = ctx:run("deploy", { version = "v2.0.0", skip = "checklist,canary,verify,finalize" }, {
    approve = APPROVERS,
    scenario = { rollout_seconds_per_pod = 25 },   -- 20 pods: over 8 minutes a rollout
  })
  t.eq(run.status, "succeeded", "the run")
  t.gt(ctx:now() - started, 30 * 60 * 1000, "ms passed on the clock")
  t.eq(ctx:image("summit-production", "web"), "registry/web:v2.0.0", "production's image")
end)

t.case("production rejected: the run fails before touching it", function(ctx)
  local run = ctx:run("deploy", { version = "v2.0.0", skip = "checklist,canary" },
                      { approve = { canary = "alice" } })
  t.eq(run.status, "suspended", "waiting at the production gate")
  t.eq(run:info().waits[1].gate, "production", "the gate")
  t.eq(run:reject("production", "alice", "not this week"), 0, "alice rejects")
  run:resume()
  t.eq(run.status, "failed", "the run")
  t.eq(ctx:image("summit-production", "web"), "registry/web:v1.0.0", "production untouched")
  t.eq(ctx:image("summit-staging", "web"), "registry/web:v2.0.0", "staging was deployed")
end)

-- A kill right after journal record n, then a resume in a fresh Lua state:
-- the deploy ends as if never interrupted, and nothing it completed before
-- the kill runs again (summit.test checks that on every resume after one).
for _, n in ipairs({ 3, 20, 45 }) do
  t.case("killed after journal record " .. n .. ", resumed", function(ctx)
    local run = ctx:run("deploy", { version = "v2.0.0", skip = "checklist", canary_count = 2, verify_count = 1 },
                        { approve = APPROVERS, kill_at = n })
    t.eq(run.status, "killed", "the run was killed")
    run:resume()
    t.eq(run.status, "succeeded", "the resumed run")
    t.eq(ctx:image("summit-production", "web"), "registry/web:v2.0.0", "production's image")
  end)
end
