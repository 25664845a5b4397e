-- A team module (docs/authoring.md "Team modules"): the percentages of a
-- stepped rollout, parsed once for every runbook of the team that goes
-- through steps. examples/summit.lua has `modules = { "lib" }`, so
--
--   local steps = require("team.steps")
--
-- in a runbook loads this file, in the runbook's sandbox (fail, log and
-- the other runbook globals are there; io and os.execute are not).
local M = {}

-- percents("10,50,100") -> { 10, 50, 100 }; fails the run on a value that
-- is not a percentage or does not increase.
function M.percents(text)
  local out = {}
  for n in text:gmatch("[^,%s]+") do
    local v = tonumber(n)
    if not v or v <= 0 or v > 100 then
      fail(string.format("steps: '%s' is not a percentage from 1 to 100", n))
    end
    if #out > 0 and v <= out[#out] then
      fail(string.format("steps: %s must be more than %s (percentages increase)", n, out[#out]))
    end
    out[#out + 1] = v
  end
  if #out == 0 then fail("steps: no percentages given") end
  return out
end

return M
