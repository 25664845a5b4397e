-- An approval gate after a step: summit.lua's rules notify approval.requested
-- (with the command that approves) and the run's end.
return runbook {
  name = "notify-gate", version = "1.0.0",
  run = function()
    step("build", function() return "v7" end)
    approval.require{ gate = "production", count = 1, reason = "ship v7" }
    step("ship", function() return "shipped" end)
  end,
}
