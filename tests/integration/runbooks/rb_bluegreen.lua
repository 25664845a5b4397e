-- Sets up a blue-green deploy for test_rollback.sh: summit.rollout's
-- blue_green switches service/NAME to the other color running `image`.
local rollout = require("summit.rollout")

return runbook {
  name = "rb_bluegreen", version = "1.0.0",
  params = {
    name = { default = "api" },
    image = { required = true },
  },
  run = function(p)
    return rollout.blue_green{ name = p.name, image = p.image, timeout = "2m" }
  end,
}
