-- Blue-green with summit.rollout: deploy a new color and switch the
-- Service, or switch back; fail = true fails after the switch (undo path).
local rollout = require("summit.rollout")

return runbook {
  name = "rollout_bg",
  params = {
    action = { enum = { "deploy", "back", "status" }, default = "deploy" },
    image = { default = "registry/api:v2" },
    fail = { type = "boolean", default = false },
  },
  run = function(p)
    local k = cluster()
    local r
    if p.action == "deploy" then
      r = rollout.blue_green{ name = "api", image = p.image, container = "api", cluster = k,
                              timeout = "2m" }
    elseif p.action == "back" then
      r = rollout.switch_back{ name = "api", cluster = k }
    else
      r = rollout.status{ name = "api" }
      print("RESULT " .. json.encode(r))
    end
    if p.fail then
      step("smoke test", function() fail("smoke test failed on " .. r.deployment) end)
    end
    return r
  end,
}
