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
  if type(v) == "table" and v.code and v.message then
    return setmetatable(v, mt)
  end
  return M.new("ERUNBOOK", tostring(v))
end

-- Gives a decoded journal error its metatable back.
function M.restore(t)
  if type(t) ~= "table" then return M.new("ERUNBOOK", tostring(t)) end
  return setmetatable(t, mt)
end

return M
