-- A plain image change with summit.rollout; an image that never becomes
-- ready fails the wait and the undo path puts the previous image back.
local rollout = require("summit.rollout")

return runbook {
  name = "rollout_rolling",
  params = {
    image = { required = true },
    timeout = { default = "2m" },
  },
  run = function(p)
    return rollout.rolling{ name = "web", image = p.image, timeout = p.timeout }
  end,
}
