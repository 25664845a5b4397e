-- Misuse of approval.require: each variant raises at once, naming the
-- argument (p.case picks one).
return runbook {
  name = "approval-bad",
  params = { case = { type = "string", required = true } },
  run = function(p)
    local cases = {
      count = { gate = "g", count = 0 },
      gate = { gate = "" },
      roles = { gate = "g", roles = { lead = 0 } },
      unknown = { gate = "g", colour = "red" },
      bind = { gate = "g", bind = { version = { 1 } } },
      on_timeout = { gate = "g", timeout = "1h", on_timeout = "later" },
      nobody = { gate = "g", roles = { "sre" } },
      signed = { gate = "g", signed = true },
    }
    approval.require(cases[p.case])
  end,
}
