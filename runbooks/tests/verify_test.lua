-- runbooks/verify.lua, tested with summit test (docs/testing.md).
local t = require("summit.test")

t.case("a healthy production passes verification", function(ctx)
  local run = ctx:run("verify", { verify_count = 2 })
  t.eq(run.status, "succeeded", "the run")
  t.eq(run:result().verdict, "passed", "the verdict")
end)

t.case("a high error rate fails verification", function(ctx)
  local run = ctx:run("verify", { verify_count = 2 }, {
    scenario = { metrics = { images = { ["registry/web:v1.0.0"] = { error_rate = 0.05 } } } },
  })
  t.eq(run.status, "failed", "the run")
  t.has(run:info().error.message, "error_rate", "the error names the metric")
end)

t.case("with strict=false a failed verdict is the result, not a failure", function(ctx)
  local run = ctx:run("verify", { verify_count = 2, strict = false }, {
    scenario = { metrics = { images = { ["registry/web:v1.0.0"] = { error_rate = 0.05 } } } },
  })
  t.eq(run.status, "succeeded", "the run")
  t.eq(run:result().verdict, "failed", "the verdict")
  t.has(run:result().failed[1], "error_rate", "what failed")
end)
