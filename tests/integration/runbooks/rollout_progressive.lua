-- A progressive rollout 10 -> 50 -> 100 with a check and a durable pause
-- between the weights; the test kills it during the pause at 50%.
local rollout = require("summit.rollout")

return runbook {
  name = "rollout_progressive",
  params = {
    image = { default = "registry/web:v2" },
    pause = { default = "3s" },
    fail_at = { type = "number", default = 0 },
  },
  run = function(p)
    local k = cluster()
    return rollout.progressive{
      name = "web", image = p.image, steps = { 10, 50, 100 }, cluster = k, timeout = "2m",
      between = function(weight)
        step("check at " .. weight .. "%", function()
          local pods = k:list("pods", { labels = { app = "web", track = "canary" } })
          if weight == p.fail_at then fail("error rate too high at " .. weight .. "%") end
          return #pods
        end)
        sleep(p.pause)
      end,
    }
  end,
}
