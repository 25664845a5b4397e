-- Pinned source: step one, a durable sleep (the run suspends there with
-- --detach), step two. Tests copy this file and edit the copy while the
-- run is suspended; effects go to effects.txt in p.dir.
return runbook {
  name = "pinned", version = "1.0.0",
  params = {
    dir = { type = "string", required = true },
    d   = { type = "string", default = "1s" },
  },
  run = function(p)
    step("one", function()
      exec({ "sh", "-c", "echo one-v1 >> effects.txt" }, { cwd = p.dir })
    end)
    sleep(p.d)
    step("two", function()
      exec({ "sh", "-c", "echo two-v1 >> effects.txt" }, { cwd = p.dir })
    end)
  end,
}
