-- A step, a durable sleep, a step: effects go to count.before / count.after
-- in p.dir.
return runbook {
  name = "sleep-resume", version = "1.0.0",
  params = {
    dir = { type = "string", required = true },
    d   = { type = "string", default = "3s" },
  },
  run = function(p)
    step("before", function()
      exec({ "sh", "-c", "echo before >> count.before" }, { cwd = p.dir })
    end)
    sleep(p.d)
    step("after", function()
      exec({ "sh", "-c", "echo after >> count.after" }, { cwd = p.dir })
    end)
  end,
}
