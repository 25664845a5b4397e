-- Post-deployment verification on its own (DEPLOYMENT_RUNBOOK.md step 5):
-- smoke tests, the critical paths (auth, API, database, graph), error rate
-- and P95 against the thresholds, feature flags. The runbook scheduled jobs
-- replay; it returns a verdict and, unless strict=false, fails the run when
-- the verdict is "failed". docs/runbooks/verify.md.
local release = require("summit.release")

return runbook {
  name = "verify",
  version = "1.0.0",
  description = "Post-deployment verification: smoke, critical paths, error rate, P95, feature flags",
  params = {
    target = { type = "string", description = "the environment (default: --env, else production)" },
    app = { type = "string", description = "the Deployment and metrics app label (default web)" },
    verify_count = { type = "integer", description = "measurement rounds (default 4)" },
    verify_interval = { type = "string", description = "between rounds (default 15m)" },
    verify_max_error_rate = { type = "number", description = "error rate limit, a fraction (default 0.005)" },
    verify_max_p95 = { type = "number", description = "P95 latency limit in seconds (default 0.5)" },
    strict = { type = "boolean", default = true, description = "fail the run when the verdict is failed" },
  },
  run = function(p)
    local s = release.settings(p)
    local where = p.target or env.name or "production"
    local v = release.verify(s, where)
    -- One line a scheduled job (or a person) can read: the verdict as JSON.
    local brief = { verdict = v.verdict, env = v.env, failed = v.failed, metrics = v.metrics, flags = v.flags,
                    checks = {} }
    for i, c in ipairs(v.checks) do brief.checks[i] = { name = c.name, ok = c.ok } end
    log.info("verdict %s", json.encode(brief))
    if v.ok then
      log.info("verify %s: passed", v.env)
    else
      log.error("verify %s: failed: %s", v.env, table.concat(v.failed, "; "))
      if p.strict then fail("verification of " .. v.env .. " failed: " .. table.concat(v.failed, "; "),
        { verdict = v }) end
    end
    return v
  end,
}
