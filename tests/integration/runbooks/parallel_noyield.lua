-- A step called where a coroutine cannot yield (a gsub callback) in a
-- parallel branch, while another branch is ready: it commits on its own
-- instead of waiting for the group commit (core/lua/journal.c).
return runbook {
  name = "noyield", version = "1.0.0",
  run = function()
    local out = {}
    parallel{
      function()
        local s = ("abc"):gsub("%w", function(c) return step("in gsub " .. c, function() return c:upper() end) end)
        out[1] = s
      end,
      function() out[2] = step("other", function() return "x" end) end,
    }
    return out[1] .. out[2]
  end,
}
