-- A small release procedure that shows what summit guarantees: steps that
-- run once, a parallel block, a durable sleep, and a resume after a crash.
return runbook {
  name = "demo-release", version = "1.0.0",
  description = "Build, check in parallel, soak, then promote",
  params = {
    version = { type = "string", default = "v1.2.3", pattern = "^v%d+%.%d+%.%d+$" },
    soak    = { type = "string", default = "6s" },
  },
  run = function(p)
    local workdir = step("prepare workspace", function()
      local r = exec({ "mktemp", "-d" })
      return (r.stdout:gsub("%s+$", ""))
    end)

    step("build " .. p.version, function()
      exec({ "sh", "-c", "echo building " .. p.version .. " > artifact.txt" }, { cwd = workdir })
    end)

    local checks = parallel {
      unit     = function() return step("unit tests", function() sleep("1s"); return "passed" end) end,
      security = function() return step("security scan", function() sleep("1500ms"); return "clean" end) end,
      lint     = function() return step("lint", function() return "ok" end) end,
    }
    log.info("checks: unit=%s security=%s lint=%s", checks.unit, checks.security, checks.lint)

    step("soak for " .. p.soak, function() sleep(p.soak) end)

    step("promote " .. p.version, function()
      local r = exec({ "cat", "artifact.txt" }, { cwd = workdir })
      log.info("promoted: %s", (r.stdout:gsub("%s+$", "")))
    end)
    return { version = p.version, checks = checks }
  end,
}
