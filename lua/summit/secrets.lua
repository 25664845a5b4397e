-- The run's secret values (DESIGN §13, docs/secrets.md): `secrets` of
-- summit.lua (read by runbooks as env.secrets.NAME) and params declared
-- secret = true. Each value goes to summit.c.secrets, which replaces it
-- with [secret:NAME] in everything that leaves the run. Nothing here is
-- stored: a resumed run reads every value again from its source.
local S = require("summit.c.secrets")
local M = {}

local values = {}    -- NAME -> value of summit.lua's secrets
local missing = {}   -- NAME -> why its value could not be read

function M.placeholder(name) return "[secret:" .. name .. "]" end

-- read(src, base) -> the value named by src ({ env = VAR } or
-- { file = PATH }, a relative PATH under base), or nil and why.
function M.read(src, base)
  if src.env ~= nil then
    local v = os.getenv(src.env)
    if v == nil or v == "" then return nil, "$" .. src.env .. " is not set" end
    return v
  end
  local path = src.file:gsub("^~/", (os.getenv("HOME") or "~") .. "/")
  if base and path:sub(1, 1) ~= "/" then path = base .. "/" .. path end
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot read " .. tostring(err) end
  local v = f:read("*a") or ""
  f:close()
  v = v:gsub("\r?\n$", "")   -- the newline an editor or `echo` adds
  if v == "" then return nil, path .. " is empty" end
  return v
end

-- add(name, value) -> true, or nil and why (too short to be redacted).
function M.add(name, value)
  return S.add(name, value)
end

-- load(cfg, path) -> list of problems: reads every secret of summit.lua
-- now, so its value is redacted even from the output of a command that
-- reads the same variable itself. A value that cannot be read is an
-- error only when the runbook asks for it (env.secrets.NAME).
function M.load(cfg, path)
  values, missing = {}, {}
  local probs = {}
  local base = path and path:match("^(.*)/[^/]*$") or nil
  for name, src in pairs(type(cfg.secrets) == "table" and cfg.secrets or {}) do
    if type(src) == "table" then
      local v, why = M.read(src, base)
      if v then
        local ok, err = S.add(name, v)
        if ok then values[name] = v
        else probs[#probs + 1] = { key = name, message = string.format("secrets.%s: %s", name, err) } end
      else
        missing[name] = why
      end
    end
  end
  return probs
end

-- The runbook's env.secrets: reading a secret that summit.lua does not
-- declare, or whose source is missing, raises at the runbook's line.
function M.env_table()
  return setmetatable({}, {
    __index = function(_, name)
      local v = values[name]
      if v then return v end
      if missing[name] then
        error(string.format("env.secrets.%s: %s", tostring(name), missing[name]), 2)
      end
      error(string.format("env.secrets.%s: summit.lua declares no such secret "
        .. "(secrets = { %s = { env = \"VAR\" } })", tostring(name), tostring(name)), 2)
    end,
    __newindex = function(_, name)
      error(string.format("env.secrets.%s: secrets are read-only", tostring(name)), 2)
    end,
  })
end

function M.redact(s) return S.redact(s) end

return M
