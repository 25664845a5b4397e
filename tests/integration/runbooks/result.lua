-- Returns what it is asked to: a table with a secret and an empty list
-- (from a step, so a resumed run returns it replayed), nothing, or fails;
-- it may wait at a gate or in a sleep first.
return runbook {
  name = "result", version = "1.0.0",
  params = {
    mode = { type = "string", default = "table" },
    tok  = { type = "string", secret = true, required = false },
    gate = { type = "boolean", default = false },
    wait = { type = "boolean", default = false },
  },
  run = function(p)
    local items = step("items", function() return json.array() end)
    if p.gate then approval.require{ gate = "go", count = 1 } end
    if p.wait then sleep("1h") end
    if p.mode == "fail" then fail("asked to fail") end
    if p.mode == "nothing" then return end
    if p.mode == "long" then return string.rep("\u{e9}", 300) end
    return { items = items, n = 3, tok = p.tok, ok = true }
  end,
}
