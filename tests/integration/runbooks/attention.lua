-- A non-idempotent "migrate" step between two ordinary steps. Its exec
-- writes its pid to pids/migrate (so the test can clean up after a crash),
-- appends to count.migrate, then waits until the file `release` exists
-- (30 s at most).
return runbook {
  name = "attention", version = "1.0.0",
  params = { dir = { type = "string", required = true } },
  run = function(p)
    step("prepare", function()
      exec({ "sh", "-c", "echo prepare >> count.prepare" }, { cwd = p.dir })
    end)
    step{ "migrate", function()
      exec({ "sh", "-c", "echo $$ > pids/migrate; echo migrate >> count.migrate; "
             .. "i=0; while [ ! -e release ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done" },
           { cwd = p.dir })
      return "migrated"
    end, idempotent = false }
    step("finish", function()
      exec({ "sh", "-c", "echo finish >> count.finish" }, { cwd = p.dir })
    end)
  end,
}
