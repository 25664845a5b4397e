-- Small helpers shared by the engine's Lua modules and the stdlib.
local M = {}

-- pack(...) -> { n = select("#", ...), ... }: the values with their count,
-- nils included (unpack(t, 1, t.n) gives them back).
function M.pack(...) return { n = select("#", ...), ... } end

-- A deep copy of v (tables copied, everything else as is).
function M.copy(v)
  if type(v) ~= "table" then return v end
  local r = {}
  for k, x in pairs(v) do r[k] = M.copy(x) end
  return r
end

-- rfc3339(ms) -> "2026-01-02T03:04:05.678Z": UTC milliseconds as the
-- events and the journal write times.
function M.rfc3339(ms)
  return os.date("!%Y-%m-%dT%H:%M:%S", math.floor(ms / 1000))
    .. string.format(".%03dZ", ms % 1000)
end

-- The keys of t, sorted (as strings, so mixed keys sort too).
function M.sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- "a, b, c": the sorted keys of t, for "known: ..." in error messages.
function M.key_list(t)
  local keys = M.sorted_keys(t)
  for i, k in ipairs(keys) do keys[i] = tostring(k) end
  return table.concat(keys, ", ")
end

-- Percent-encodes s for a URL query or a form body (RFC 3986 unreserved
-- characters are kept).
function M.urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(ch)
    return string.format("%%%02X", ch:byte())
  end))
end

return M
