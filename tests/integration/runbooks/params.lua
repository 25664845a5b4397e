-- Typed params: a required number and a required string.
return runbook {
  name = "params", version = "1.0.0",
  params = {
    n     = { type = "number", required = true, description = "how many" },
    label = { type = "string", required = true },
    flag  = { type = "boolean", default = false },
  },
  run = function(p)
    return step("echo params", function()
      return { n = p.n, label = p.label, flag = p.flag }
    end)
  end,
}
