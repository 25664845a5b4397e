-- A scheduled probe that always fails (test_notify's schedule.failing).
return runbook {
  name = "notify-probe", version = "1.0.0",
  run = function()
    step("probe", function() fail("the probe found the service down") end)
  end,
}
