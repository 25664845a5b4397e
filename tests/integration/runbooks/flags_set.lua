-- Feature flags with summit.flags: set, enable, disable, a stepped
-- rollout with a check between, and a failure at the end (the undo path).
local flags = require("summit.flags")

return runbook {
  name = "flags_set",
  params = {
    action = { enum = { "set", "rollout", "read" }, default = "set" },
    flag = { default = "new-checkout" },
    percent = { type = "number", default = 25 },
    configmap = { default = "feature-flags" },
    pause = { default = "0s" },
    fail = { type = "boolean", default = false },
  },
  run = function(p)
    local o = { configmap = p.configmap }
    local r = {}
    if p.action == "set" then
      r.set = flags.set(p.flag, p.percent, o)
      r.enabled = flags.enable("dark-mode", o)
      r.disabled = flags.disable("legacy-search", o)
    elseif p.action == "rollout" then
      r.rollout = flags.rollout(p.flag, { 10, 50, 100 }, { configmap = p.configmap,
        between = function(pct)
          step("check at " .. pct .. "%", function() return flags.get(p.flag, o) end)
          sleep(p.pause)
        end })
    end
    r.value = flags.get(p.flag, o)
    r.all = flags.all(o)
    print("RESULT " .. json.encode(r))
    if p.fail then step("verify", function() fail("verification failed") end) end
    return r
  end,
}
