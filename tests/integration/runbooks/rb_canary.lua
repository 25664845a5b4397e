-- Sets up a canary for test_rollback.sh: summit.rollout's canary puts
-- `image` on NAME-canary at `weight` percent of NAME's replicas.
local rollout = require("summit.rollout")

return runbook {
  name = "rb_canary", version = "1.0.0",
  params = {
    name = { default = "web" },
    image = { required = true },
    weight = { type = "number", default = 33 },
  },
  run = function(p)
    return rollout.canary{ name = p.name, image = p.image, weight = p.weight, timeout = "2m" }
  end,
}
