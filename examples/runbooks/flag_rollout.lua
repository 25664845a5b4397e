-- Feature-flag rollout: turn a flag on in steps (10% -> 50% -> 100% by
-- default), watching the application's error rate and P95 latency after
-- each step. A step whose numbers are bad stops the rollout, and the flag
-- goes back to the value it had before the run (summit.flags registers an
-- undo for every change), so the run ends `rolled_back`.
--
--   summit run examples/runbooks/flag_rollout.lua --env production \
--     -p flag=new-checkout -p steps=10,50,100 -p watch=15m
--
-- Needs in summit.lua: the environment's cluster and namespace (the flags
-- live in the ConfigMap `feature-flags` there, see docs/stdlib/flags.md)
-- and two metrics templates, `error_rate` (a fraction, 0.01 = 1%) and
-- `p95` (seconds), taking the variables namespace, app and track; and
-- `modules = { "lib" }` for the team module team.steps (examples/lib/).
local flags = require("summit.flags")
-- The team's own module: examples/lib/team/steps.lua (summit.lua's modules).
local steps_of = require("team.steps")

return runbook {
  name = "flag_rollout", version = "1.0.0",
  description = "Turn a feature flag on in steps, checking metrics between steps; restore it on failure",
  environment = true,   -- one flag change at a time per environment
  params = {
    flag = { type = "string", required = true, pattern = "^[%w][%w%-%._]*$",
             description = "the flag: a key of the ConfigMap" },
    steps = { type = "string", default = "10,50,100", pattern = "^[%d%.,%s]+$",
              description = "percentages to go through, comma-separated, increasing" },
    watch = { type = "string", default = "15m",
              description = "how long each step runs before its metrics are judged" },
    app = { type = "string", default = "web",
            description = "the app label of the application's series" },
    max_error_rate = { type = "number", default = 0.01,
                       description = "highest error rate accepted (fraction: 0.01 = 1%)" },
    max_p95 = { type = "number", default = 0.5,
                description = "highest P95 latency accepted, in seconds" },
    configmap = { type = "string", default = "feature-flags",
                  description = "the ConfigMap holding the flags" },
  },
  run = function(p)
    local steps = steps_of.percents(p.steps)
    local o = { configmap = p.configmap }
    local vars = { namespace = env.namespace or "default", app = p.app, track = "stable" }
    local before = flags.get(p.flag, o)
    log.info("flag %s is %s; rolling out to %s%%", p.flag,
      before and (before .. "%") or "unset", table.concat(steps, "%, "))

    -- Watches the application at pct%, then judges: a metric over its
    -- limit (or no traffic at all, which proves nothing) fails the step.
    local function judge(pct)
      sleep(p.watch)
      return step("metrics at " .. pct .. "%", function()
        local er = metrics.get("error_rate", vars)
        local p95 = metrics.get("p95", vars)
        local seen = { flag = p.flag, percent = pct, error_rate = er, p95 = p95 }
        local why
        if er == nil or er ~= er then
          why = "no traffic measured (error rate is empty)"
        elseif er > p.max_error_rate then
          why = string.format("error rate %.4f is over %.4f", er, p.max_error_rate)
        elseif p95 and p95 == p95 and p95 > p.max_p95 then
          why = string.format("P95 latency %.3fs is over %.3fs", p95, p.max_p95)
        end
        if why then
          seen.reason = why
          audit.record("flag.rollout.halted", seen)
          fail(string.format("flag %s at %s%%: %s", p.flag, pct, why))
        end
        log.info("at %s%%: error rate %.4f, P95 %s", pct, er, p95 and string.format("%.3fs", p95) or "-")
        return seen
      end)
    end

    local seen = {}
    flags.rollout(p.flag, steps, {
      configmap = p.configmap,
      between = function(pct) seen[#seen + 1] = judge(pct) end,
    })
    -- The last step has no `between`: judge 100% (or wherever it ends) too.
    seen[#seen + 1] = judge(steps[#steps])

    audit.record("flag.rollout", { flag = p.flag, from = before, to = steps[#steps],
                                   steps = steps, configmap = p.configmap })
    return { flag = p.flag, from = before, to = steps[#steps], checks = seen }
  end,
}
