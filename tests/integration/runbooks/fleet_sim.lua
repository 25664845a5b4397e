-- summit.fleet over simulated clusters (tests/integration/test_fleet.sh):
-- a rolling image change on every cluster named in p.targets, with the
-- error budget and concurrency given as params. Each target appends its
-- name to p.trace once its rollout is done; the target p.hold_at then
-- waits p.hold (a window for a SIGKILL mid-fleet).
local fleet = require("summit.fleet")
local rollout = require("summit.rollout")

return runbook {
  name = "fleet_sim",
  params = {
    image = { required = true },
    targets = { default = "eu,us,ap" },
    max_errors = { default = "0" },
    max_concurrency = { default = "1" },
    on_budget = { default = "fail" },
    trace = { required = true },
    hold = { default = "0" },
    hold_at = { default = "" },
    timeout = { default = "3s" },
  },
  run = function(p)
    local names = {}
    for n in p.targets:gmatch("[^,]+") do names[#names + 1] = n end
    local r = fleet.rollout{
      name = "web", targets = names,
      max_errors = tonumber(p.max_errors) or p.max_errors,
      max_concurrency = tonumber(p.max_concurrency) or p.max_concurrency,
      on_budget = p.on_budget,
      each = function(t)
        local done = rollout.rolling{ cluster = cluster(t.name), name = "web", image = p.image,
                                      timeout = p.timeout }
        exec({ "sh", "-c", 'echo "$1" >> "$2"', "sh", t.name, p.trace })
        if t.name == p.hold_at then sleep(p.hold) end
        return { image = done.image, previous = done.previous }
      end,
    }
    return { status = r.status, succeeded = r.succeeded, failed = r.failed,
             not_started = r.not_started }
  end,
}
