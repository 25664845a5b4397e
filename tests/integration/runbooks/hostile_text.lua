-- A param that flows into a step name, a log line, a gate's reason and a
-- failure message: test_terminal_escapes.sh gives it terminal escapes.
return runbook {
  name = "hostile-text", version = "1.0.0",
  params = {
    msg  = { type = "string", required = true },
    fail = { type = "boolean", default = false },
  },
  run = function(p)
    step("build " .. p.msg, function()
      log.info("building %s", p.msg)
      return p.msg
    end)
    approval.require{ gate = "production", count = 1, bind = { version = "v1" },
                      reason = "ship " .. p.msg }
    step("finish", function()
      if p.fail then fail("broken by " .. p.msg) end
    end)
  end,
}
