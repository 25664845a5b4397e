-- Misuse of summit.flags raises at once, naming the argument.
local flags = require("summit.flags")

return runbook {
  name = "flags_bad",
  params = { case = { required = true } },
  run = function(p)
    if p.case == "percent" then
      flags.set("new-checkout", 150)
    elseif p.case == "name" then
      flags.enable("new checkout!")
    elseif p.case == "steps" then
      flags.rollout("new-checkout", { 50, 10 })
    end
  end,
}
