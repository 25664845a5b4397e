-- Three steps; the second fails until the file `marker` exists in p.dir.
-- Each appends to count.<step> first, so the test can count executions.
return runbook {
  name = "flaky", version = "1.0.0",
  params = { dir = { type = "string", required = true } },
  run = function(p)
    step("first", function()
      exec({ "sh", "-c", "echo first >> count.first" }, { cwd = p.dir })
    end)
    step("second", function()
      exec({ "sh", "-c", "echo second >> count.second; [ -e marker ] || { echo 'marker missing' >&2; exit 7; }" },
           { cwd = p.dir })
    end)
    step("third", function()
      exec({ "sh", "-c", "echo third >> count.third" }, { cwd = p.dir })
    end)
  end,
}
