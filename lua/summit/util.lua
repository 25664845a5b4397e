-- Small helpers shared by the engine's Lua modules.
local M = {}

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
