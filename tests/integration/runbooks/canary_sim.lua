-- A canary analysis against the simulated cluster's metrics (the seed's
-- thresholds): error rate < 1% and close to production, P99 latency within
-- 10% of production (Mann-Whitney on range samples), success rate > 99%.
-- The runbook decides the reaction: here it only reports the verdict on a
-- RESULT line (tests/integration/test_canary.sh reads it).
-- shape = "errors": one metric, one instant query per measurement (the
-- durability test counts queries).
local canary = require("summit.canary")

return runbook {
  name = "canary-sim",
  params = {
    namespace = { type = "string", required = true },
    count = { type = "integer", default = 5 },
    interval = { type = "string", default = "1m" },
    shape = { type = "string", default = "full", enum = { "full", "errors" } },
  },
  run = function(p)
    step("deploy the canary", function() return "(the scenario has deployed it)" end)
    local vars = { namespace = p.namespace, app = "web", track = "canary" }
    local stable = { vars = { track = "stable" } }
    local metrics
    if p.shape == "errors" then
      metrics = { { name = "error_rate", template = "error_rate", max = 0.01 } }
    else
      metrics = {
        { name = "error_rate", template = "error_rate", max = 0.01,
          baseline = stable, max_increase = 0.5, margin = 0.002, critical = true },
        { name = "p99", template = "p99", baseline = stable,
          compare = { direction = "increase", effect = 0.10 }, window = "2m", step = "5s" },
        { name = "success_rate", template = "success_rate", min = 99 },
        { name = "cpu", template = "cpu", max = 10, dry_run = true },
      }
    end
    local v = canary.analyze{
      name = "web " .. p.namespace,
      vars = vars,
      metrics = metrics,
      count = p.count, interval = p.interval, initial_delay = "10s",
      failure_limit = 1,
    }
    local per = {}
    for _, m in ipairs(v.measurements) do
      per[m.metric] = (per[m.metric] and (per[m.metric] .. ",") or "") .. m.outcome
    end
    local first_failed
    for _, m in ipairs(v.measurements) do
      if m.outcome == "failed" then first_failed = first_failed or m end
    end
    step("react", function()
      if v.verdict == "successful" then return "promote" end
      if v.verdict == "inconclusive" then return "pause for a human" end
      return "roll back"
    end)
    log.info("RESULT %s", json.encode({
      verdict = v.verdict, reason = v.reason, rounds = v.rounds, score = v.score,
      outcomes = per, n = #v.measurements,
      failed_reason = first_failed and first_failed.reason or json.null,
      failed_query = first_failed and first_failed.query or json.null,
      p99 = v.metrics.p99 and v.metrics.p99.verdict or json.null,
      cpu = v.metrics.cpu and v.metrics.cpu.verdict or json.null,
    }))
  end,
}
