-- The README's parallel pattern (each branch tail-calls step): branch
-- "tests" sleeps (the run suspends there with --detach), branch "scan"
-- completes. Tests copy this file and rename a step in the copy.
return runbook {
  name = "pinned-parallel", version = "1.0.0",
  params = { dir = { type = "string", required = true } },
  run = function(p)
    local checks = parallel {
      tests = function() return step("tests", function() sleep("1s"); return "passed" end) end,
      scan  = function() return step("scan", function() return "clean" end) end,
    }
    step("report", function()
      exec({ "sh", "-c", "echo " .. checks.tests .. "," .. checks.scan .. " >> effects.txt" },
           { cwd = p.dir })
    end)
  end,
}
