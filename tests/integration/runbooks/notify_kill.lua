-- A notification, then a step that waits for p.dir/go (the test SIGKILLs
-- the run there), then a notification to the slow channel (the test
-- SIGKILLs the run while that one is in flight when p.slow is set); with
-- p.fail the run fails at the end (its run.failed notifications go out).
return runbook {
  name = "notify-kill", version = "1.0.0",
  params = {
    dir  = { type = "string", required = true },
    slow = { type = "boolean", default = false },
    fail = { type = "boolean", default = false },
  },
  run = function(p)
    notify("before the kill")
    step("wait for go", function()
      exec({ "sh", "-c", 'touch "$1/waiting"; while [ ! -f "$1/go" ]; do sleep 0.05; done', "sh", p.dir })
    end)
    if p.slow then notify("slow one", { channel = "slow" }) end
    notify("after the kill")
    if p.fail then fail("the check after the kill failed") end
  end,
}
