-- A parallel of p.branches branches, each running p.steps steps that each
-- append "bI sJ" to effects.txt in p.dir through exec (then pause a
-- little), then one step of pure Lua. The branches start their steps
-- together, so their started rows share commits (group commit): a kill
-- lands between a group's commit and its processes, inside them, and
-- between their ends and the next commit.
return runbook {
  name = "crash-parallel", version = "1.0.0",
  params = {
    dir      = { type = "string", required = true },
    branches = { type = "integer", default = 12 },
    steps    = { type = "integer", default = 4 },
    pause    = { type = "string", default = "0.1" },
  },
  run = function(p)
    local b = {}
    for i = 1, p.branches do
      b["b" .. i] = function()
        for j = 1, p.steps do
          step("b" .. i .. " s" .. j, function()
            exec({ "sh", "-c", "echo 'b" .. i .. " s" .. j .. "' >> effects.txt; sleep " .. p.pause },
                 { cwd = p.dir })
            return j
          end)
        end
        return step("b" .. i .. " done", function() return i end)
      end
    end
    parallel(b)
    return { branches = p.branches }
  end,
}
