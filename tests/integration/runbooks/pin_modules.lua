-- A run that uses the stdlib on both sides of a durable sleep: summit.stats
-- is required when the runbook loads, summit.window only after the sleep
-- (so a resume is its first load). Step "write" puts what the modules
-- answered into p.dir/out.txt (test_pin_modules.sh edits them).
local stats = require("summit.stats")
return runbook {
  name = "pin-modules", version = "1.0.0",
  params = {
    dir = { type = "string", required = true },
    d   = { type = "string", default = "1s" },
  },
  run = function(p)
    step("before", function() return stats.mean({ 1, 2, 3 }) end)
    sleep(p.d)
    local late = require("summit.window")
    local line = string.format("mean=%s window=%s", stats.mean({ 1, 2, 3 }),
                               type(late.PIN_MARK) == "string" and late.PIN_MARK or "none")
    step("write", function()
      exec({ "sh", "-c", "echo \"$1\" >> out.txt", "sh", line }, { cwd = p.dir })
    end)
    return line
  end,
}
