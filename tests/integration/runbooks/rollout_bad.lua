-- Misuse of summit.rollout raises at once, naming the argument.
local rollout = require("summit.rollout")

return runbook {
  name = "rollout_bad",
  params = { case = { required = true } },
  run = function(p)
    if p.case == "weight" then
      rollout.canary{ name = "web", image = "registry/web:v9", weight = 150 }
    elseif p.case == "steps" then
      rollout.progressive{ name = "web", image = "registry/web:v9", steps = { 50, 10 } }
    elseif p.case == "name" then
      rollout.blue_green{ name = "service/api", image = "registry/api:v9" }
    end
  end,
}
