-- The standard deployment procedure (the platform team's DEPLOYMENT_RUNBOOK.md),
-- section by section: deployment window, pre-deployment checklist, prepare
-- the release, staging, canary with analysis, production (approved by a
-- Platform Lead and a second approver; blue-green, progressive or canary),
-- post-deployment verification, finalize. docs/runbooks/deploy.md.
local release = require("summit.release")

return runbook {
  name = "deploy",
  version = "1.0.0",
  description = "The standard procedure: staging, canary, production, verification, release",
  environment = release.environments("staging", "production"),
  params = {
    version = { type = "string", required = true, pattern = release.VERSION_PATTERN,
                description = "the release, e.g. v4.0.5" },
    strategy = { type = "string", enum = release.STRATEGIES,
                 description = "production strategy (default progressive, or defaults.release.strategy)" },
    app = { type = "string", description = "the Deployment and metrics app label (default web)" },
    image = { type = "string", description = "image template, {{app}} and {{version}} replaced" },
    skip = { type = "string", description = "phases to leave out, comma-separated: "
               .. "window, checklist, prepare, staging, canary, verify, finalize" },
    git = { type = "boolean", description = "run the git steps (release branch, merge, tag)" },
    justification = { type = "string", description = "why deploy inside a denied window (asks an override)" },
    canary_count = { type = "integer", description = "canary analysis rounds (default 6)" },
    canary_interval = { type = "string", description = "between rounds (default 5m)" },
    canary_initial_delay = { type = "string", description = "warm-up before the first round (default 2m)" },
    monitor_wait = { type = "string", description = "wait between production steps (default 15m)" },
    verify_count = { type = "integer", description = "verification rounds (default 4)" },
    verify_interval = { type = "string", description = "between verification rounds (default 15m)" },
  },
  run = function(p)
    local s = release.settings(p)
    local out = { version = s.version, image = s.image_ref, strategy = s.strategy }
    if not release.skipped(s, "window") then
      step("deployment window", function() return release.window("production", s) end)
    end
    if not release.skipped(s, "checklist") then release.checklist(s) end
    if not release.skipped(s, "prepare") then release.prepare(s) end
    if not release.skipped(s, "staging") then release.staging(s) end
    if not release.skipped(s, "canary") then
      -- The verdict is the step's result, not an assignment inside its
      -- body: a resumed run replays the step without running the body.
      out.canary = step("canary " .. s.version, function()
        local t = release.target("canary", s)
        approval.require{ gate = t.name, roles = s.canary_roles,
                          bind = { version = s.version, image = s.image_ref },
                          reason = "deploy " .. s.version .. " to the canary (" .. t.name .. ")" }
        local v = release.canary(s)
        return v.verdict
      end)
    end
    if not release.skipped(s, "production") then
      local a = release.approve_production(s)
      local approvers = {}
      for _, x in ipairs(a.approvers) do approvers[#approvers + 1] = x.actor end
      out.approvers = approvers
      step("production " .. s.version .. " (" .. s.strategy .. ")", function()
        return release.production(s)
      end)
    end
    if not release.skipped(s, "verify") then
      local v = release.verify(s)
      out.verify = v.verdict
      if not v.ok then
        fail("post-deployment verification failed: " .. table.concat(v.failed, "; "), { verify = v })
      end
    end
    if not release.skipped(s, "finalize") then release.finalize(s, { approvers = out.approvers }) end
    return out
  end,
}
