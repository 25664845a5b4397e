-- 50 steps, each appending "step N" to effects.txt in p.dir through exec and
-- then pausing a little, so that kills land inside steps as well as between.
return runbook {
  name = "crash-50", version = "1.0.0",
  params = {
    dir   = { type = "string", required = true },
    steps = { type = "integer", default = 50 },
    pause = { type = "string", default = "0.04" },
  },
  run = function(p)
    for i = 1, p.steps do
      step("step " .. i, function()
        exec({ "sh", "-c", "echo 'step " .. i .. "' >> effects.txt; sleep " .. p.pause },
             { cwd = p.dir })
        return i
      end)
    end
    return { steps = p.steps }
  end,
}
