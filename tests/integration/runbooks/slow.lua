-- A step, a slow step (its exec waits up to 30 s unless the file `release`
-- exists in p.dir; it writes its pid to pids/slow), a step.
return runbook {
  name = "slow", version = "1.0.0",
  params = { dir = { type = "string", required = true } },
  run = function(p)
    step("before", function()
      exec({ "sh", "-c", "echo before >> count.before" }, { cwd = p.dir })
    end)
    step("slow", function()
      exec({ "sh", "-c", "echo slow >> count.slow; [ -e release ] && exit 0; "
             .. "echo $$ > pids/slow; exec sleep 30" }, { cwd = p.dir })
    end)
    step("after", function()
      exec({ "sh", "-c", "echo after >> count.after" }, { cwd = p.dir })
    end)
  end,
}
