-- notify() to every kind of channel of test_notify's summit.lua: the
-- default (Slack format), a generic one with fields, one answering 500,
-- one refusing connections and one answering 404. The results go to
-- p.dir/results.json; the run fails at the end when p.fail is set.
return runbook {
  name = "notify-basic", version = "1.2.0",
  params = {
    dir  = { type = "string", required = true },
    fail = { type = "boolean", default = false },
  },
  run = function(p)
    local r = {}
    r.default = notify("deploying <web> v2 & more", { fields = { version = "v2", replicas = 3 } })
    r.generic = notify("canary looks fine", { channel = "generic", level = "warn",
                                              fields = { error_rate = 0.01 } })
    r.down = notify("to a hook that answers 500", { channel = "down", level = "error" })
    r.refused = notify("to a hook that is not there", { channel = "refused" })
    r.gone = notify("to a hook that answers 404", { channel = "gone" })
    step("record", function()
      exec({ "sh", "-c", 'printf "%s" "$1" > "$2"', "sh", json.encode(r), p.dir .. "/results.json" })
    end)
    if p.fail then
      step("smoke test", function() fail("the smoke test found 3 errors") end)
    end
    return { sent = r.default.delivered }
  end,
}
