-- Team modules (docs/authoring.md "Team modules"): require("team.checks")
-- in a runbook finds team/checks.lua under summit.lua's `modules`
-- directories, in list order, and runs it in the runbook's own sandbox
-- (its allow-list environment, its require, its budgets). The stdlib keeps
-- its names: summit and summit.* are never looked for on disk.
local M = {}

-- "team.checks": words of letters, digits, _ and -, joined by dots (no
-- "..", no "/": a name cannot leave the directories).
local NAME = "^[%w_%-]+$"

-- reserved(name) -> true for the stdlib's names (summit, summit.*).
function M.reserved(name)
  return name == "summit" or name:sub(1, 7) == "summit."
end

-- dirs() -> the modules directories of summit.lua, each joined to the
-- directory of summit.lua unless absolute; {} without summit.lua. Never
-- bare: a chunk named @lua/summit/... would pass for the engine's own
-- code, which the watchdog does not interrupt (./lua/summit/... does not).
function M.dirs()
  local C = require("summit.config")
  local list = type(C.current) == "table" and C.current.modules or nil
  if type(list) ~= "table" or not C.path then return {} end
  local base = C.path:match("^(.*)/[^/]*$") or "."
  local out = {}
  for i, d in ipairs(list) do
    out[i] = d:sub(1, 1) == "/" and d or (base .. "/" .. d)
  end
  return out
end

-- candidates(name) -> the files require(name) tries, in order, or nil
-- when name is not a module name.
function M.candidates(name)
  local rel = {}
  for part in (name .. "."):gmatch("([^.]*)%.") do
    if not part:match(NAME) then return nil end
    rel[#rel + 1] = part
  end
  local file = table.concat(rel, "/") .. ".lua"
  local out = {}
  for i, d in ipairs(M.dirs()) do out[i] = d .. "/" .. file end
  return out
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local src = f:read("*a")
  f:close()
  return src
end

-- not_found(name, tried) -> Lua's own kind of message: each path tried.
local function not_found(name, tried)
  if #tried == 0 then
    return string.format("module '%s' not found: summit.lua has no modules directories "
      .. "(modules = { \"lib\" } makes lib/%s.lua a team module)", name, name:gsub("%.", "/"))
  end
  local lines = { string.format("module '%s' not found:", name) }
  for _, p in ipairs(tried) do lines[#lines + 1] = "  no file '" .. p .. "'" end
  return table.concat(lines, "\n")
end

-- The one place a team module's source becomes code: every module a run
-- loads passes here with its name, path and source (a run that pins what
-- it loaded records them here).
local function compile(name, path, src, env)
  -- The run pins the text (DESIGN §14): a resume loads what it loaded.
  src = require("summit.c.pin").source(name, path, src)
  local chunk, err = loadstring(src, "@" .. path)
  if not chunk then return nil, err end
  setfenv(chunk, env)
  return chunk
end

-- Compiles and runs module name's source: its value (true when it
-- returns nothing), or nil and a message.
local function run(name, path, src, env, loading)
  local chunk, err = compile(name, path, src, env)
  if not chunk then return nil, err end
  loading[#loading + 1] = name
  local ok, v = pcall(chunk, name)
  loading[#loading] = nil
  if not ok then
    if type(v) ~= "string" then error(v, 0) end
    return nil, v
  end
  if v == nil then v = true end
  return v
end

-- load(name, env, loading) -> the module's value (true when it returns
-- nothing), or nil and a message. env: the sandbox of the runbook that
-- requires it; loading: the names being loaded now, in order (a cycle is
-- an error naming it, not an endless recursion). An error that is not a
-- string (cancel, timeout, memory: summit.errors) is raised as it is.
function M.load(name, env, loading)
  local tried = M.candidates(name)
  if not tried then
    return nil, string.format("'%s' is not a module name (words of letters, digits, _ "
      .. "and -, joined by dots: \"team.checks\")", name)
  end
  for i, other in ipairs(loading) do
    if other == name then
      local cycle = {}
      for j = i, #loading do cycle[#cycle + 1] = loading[j] end
      cycle[#cycle + 1] = name
      return nil, string.format("require cycle: %s (a module still loading was required "
        .. "again; require one of them inside a function instead)", table.concat(cycle, " -> "))
    end
  end
  -- A resumed run loads the text it pinned, even if the file is gone.
  local pinned, pinned_path = require("summit.c.pin").pinned(name)
  if pinned then return run(name, pinned_path, pinned, env, loading) end
  for _, path in ipairs(tried) do
    local src = read(path)
    if src then return run(name, path, src, env, loading) end
  end
  return nil, not_found(name, tried)
end

return M
