-- Error values of summit primitives: tables {code = "ETIMEDOUT", message = ...}
-- that print as "ETIMEDOUT: message" and survive the journal as JSON.
local M = {}

-- No __index = mt: a runbook that catches an error must not reach the
-- metatable every error of the engine shares through e.__index.
local mt = {}
mt.__tostring = function(e)
  local where = e.where and (e.where .. ": ") or ""
  return where .. tostring(e.code) .. ": " .. tostring(e.message)
end
M.mt = mt

-- new(code, message, fields?) -> error value
function M.new(code, message, fields)
  local e = {}
  if fields then for k, v in pairs(fields) do e[k] = v end end
  e.code, e.message = code, message
  return setmetatable(e, mt)
end

function M.is(v) return getmetatable(v) == mt end

-- Any raised value as an error table: a string from error() or the VM keeps
-- its text (with file:line) as the message.
function M.normalize(v)
  if getmetatable(v) == mt then return v end
  if v == "not enough memory" then return M.out_of_memory() end
  if type(v) == "table" and v.code and v.message then
    return setmetatable(v, mt)
  end
  return M.new("ERUNBOOK", tostring(v))
end

local function size(n)
  local units, u = { "bytes", "KiB", "MiB", "GiB", "TiB" }, 1
  while n >= 1024 and u < #units do n, u = n / 1024, u + 1 end
  return string.format("%.4g %s", n, units[u])
end

-- The error of a request the Lua allocator refused: ENOMEM naming the
-- run's memory cap (lalloc.c) and how to raise it.
function M.out_of_memory()
  local ok, T = pcall(require, "summit.c.task")
  local _, cap, refused
  if ok then _, cap, refused = T.memory() end
  if refused and cap and cap > 0 then
    return M.new("ENOMEM", string.format("the run's Lua memory would exceed its cap of %s; "
      .. "raise limits.memory in summit.lua or SUMMIT_LUA_MEMORY", size(cap)))
  end
  return M.new("ENOMEM", "not enough memory")
end

-- Gives a decoded journal error its metatable back.
function M.restore(t)
  if type(t) ~= "table" then return M.new("ERUNBOOK", tostring(t)) end
  return setmetatable(t, mt)
end

return M
