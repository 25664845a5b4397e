-- What sandboxed code (a runbook, summit.lua) may hold of the engine:
-- copies, never the engine's own tables. A runbook that assigns to
-- `http.request`, `string.lower` or a required module changes its copy;
-- the engine, which captured its functions when it loaded, never sees it.
-- Metatables are the other way in: the sandbox's getmetatable shows only
-- metatables that sandboxed code set itself (not the string metatable,
-- whose __index is the engine's `string`, nor those of summit's objects),
-- and its setmetatable cannot replace one it could not see.
local debug_getmetatable = debug.getmetatable
local getmetatable, setmetatable = getmetatable, setmetatable
local pairs, next, type, error, rawget = pairs, next, type, error, rawget
local format = string.format

local M = {}

-- Metatables set by sandboxed code (weak: they go when their objects do).
local own = setmetatable({}, { __mode = "k" })

-- copy(t) -> a shallow copy of t with t's metatable (functions and
-- sentinels such as json.null keep their identity).
function M.copy(t)
  local c = {}
  for k, v in next, t do c[k] = v end
  local mt = debug_getmetatable(t)
  if mt then setmetatable(c, mt) end
  return c
end

-- deep(t) -> a copy of plain data (configuration): nested tables copied,
-- cycles kept.
function M.deep(t, seen)
  seen = seen or {}
  if seen[t] then return seen[t] end
  local c = {}
  seen[t] = c
  for k, v in next, t do
    c[k] = type(v) == "table" and M.deep(v, seen) or v
  end
  return c
end

-- lib(name, drop) -> a copy of a standard library without the names in
-- drop (string.dump: bytecode of engine functions is nobody's business).
function M.lib(t, drop)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  for _, k in pairs(drop or {}) do c[k] = nil end
  return c
end

-- The sandbox's getmetatable: nil for any metatable sandboxed code did
-- not set itself; for its own, what Lua's getmetatable answers (so its
-- __metatable field still works).
function M.getmetatable(v)
  local mt = debug_getmetatable(v)
  if mt == nil or not own[mt] then return nil end
  return getmetatable(v)
end

-- The sandbox's setmetatable: a table whose metatable came from summit
-- keeps it, except the mark of json.array (a decoded [] has it), which
-- is data, not a summit object.
function M.setmetatable(t, mt)
  if type(t) ~= "table" then
    error(format("bad argument #1 to 'setmetatable' (table expected, got %s)", type(t)), 2)
  end
  local cur = debug_getmetatable(t)
  if cur ~= nil and not own[cur] and rawget(cur, "__name") ~= "json.array" then
    error("setmetatable: cannot change the metatable of a summit object", 2)
  end
  if type(mt) == "table" then own[mt] = true end
  return setmetatable(t, mt)
end

-- requirer(load, ctx) -> the sandbox's require: each module once per
-- sandbox (a run), as a copy of the engine's; load(name, ctx) returns the
-- module and true when it is the sandbox's own already (not copied).
function M.requirer(load, ctx)
  local cache = {}
  return function(name)
    local m = cache[name]
    if m == nil then
      local own
      m, own = load(name, ctx)
      if type(m) == "table" and not own then m = M.copy(m) end
      cache[name] = m
    end
    return m
  end
end

-- lazy(name) -> a table that loads module `name` the first time a field
-- is read, then holds a copy of its fields (most runs never touch git,
-- metrics or approval; loading them costs every start).
function M.lazy(name, load)
  local proxy = {}
  return setmetatable(proxy, { __index = function(_, k)
    local m = load(name)
    setmetatable(proxy, nil)
    for mk, mv in pairs(m) do
      if rawget(proxy, mk) == nil then proxy[mk] = mv end
    end
    return rawget(proxy, k)
  end })
end

return M
