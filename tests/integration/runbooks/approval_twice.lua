-- The same gate asked twice, about two versions: an approval of the first
-- request (v1) never releases the second (v2).
return runbook {
  name = "approval-twice", version = "1.0.0",
  params = { dir = { type = "string", required = true } },
  run = function(p)
    for _, v in ipairs({ "v1", "v2" }) do
      approval.require{ gate = "release", bind = { version = v } }
      step("ship " .. v, function()
        exec({ "sh", "-c", 'echo "$1" >> "$2"', "sh", "ship " .. v, p.dir .. "/trace" })
      end)
    end
  end,
}
