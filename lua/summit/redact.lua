-- Redaction of secrets before anything reaches the journal, the logs or
-- the event stream: credential headers, userinfo in URLs, and query
-- parameters whose names say they carry a secret.
--
-- The library functions are captured when the engine loads this module,
-- before any runbook or summit.lua runs, and called as functions, never
-- as s:method() (which looks them up in the shared string metatable at
-- call time): masking must not depend on anything sandboxed code touches.
local lower, find, gsub = string.lower, string.find, string.gsub
local tostring, type, pairs, ipairs = tostring, type, pairs, ipairs

local M = {}

M.MASK = "[redacted]"
local MASK = M.MASK

local SECRET_HEADERS = {
  authorization = true, ["proxy-authorization"] = true, cookie = true,
  ["set-cookie"] = true, ["x-api-key"] = true, ["x-auth-token"] = true,
  ["private-token"] = true, ["x-vault-token"] = true,
}

local function judge(name)
  local n = lower(name)
  return SECRET_HEADERS[n] or find(n, "token", 1, true) or find(n, "secret", 1, true)
    or find(n, "password", 1, true) or find(n, "api[-_]?key") or find(n, "credential", 1, true)
    -- pass, passwd, pwd as a word of the name: db_pass, PG-PWD, not bypass
    or find(n, "%f[%w]pass%f[%W]") or find(n, "%f[%w]passwd%f[%W]")
    or find(n, "%f[%w]pwd%f[%W]")
end

-- The answer per name, remembered: every HTTP check asks it of each of
-- its request's and response's headers, the same few names over and over,
-- and the eight pattern searches were a visible part of a check's Lua
-- time (perf, 1,000 checks: Lua pattern matching ~3%). Bounded: past
-- CACHE_MAX names, the cache starts again.
local CACHE_MAX = 512
local cache, cached = {}, 0

local function secret_name(name)
  local v = cache[name]
  if v == nil then
    v = judge(name) and true or false
    if cached >= CACHE_MAX then cache, cached = {}, 0 end
    cache[name], cached = v, cached + 1
  end
  return v
end

-- header(name) -> true when the header's value must never be stored.
function M.is_secret_header(name) return secret_name(name) and true or false end

-- headers(t) -> a copy with secret values masked.
function M.headers(t)
  local out = {}
  for k, v in pairs(t or {}) do
    out[k] = secret_name(tostring(k)) and MASK or v
  end
  return out
end

local function redact_url(u)
  u = gsub(u, "^(%a[%w+.-]*://)[^/@]*@", "%1" .. MASK .. "@")
  return (gsub(u, "([?&])([^=&#]+)=([^&#]*)", function(sep, k, v)
    local lk = lower(k)
    if secret_name(k) or lk == "sig" or lk == "signature" then
      return sep .. k .. "=" .. MASK
    end
    return sep .. k .. "=" .. v
  end))
end

-- Remembered per URL as secret_name is per name: a runbook's checks ask
-- the same few URLs again and again, each request (and its response's
-- final URL) twice. Bounded the same way.
local urls, nurls = {}, 0

-- url(u) -> u without userinfo and with secret query values masked.
function M.url(u)
  u = tostring(u)
  local v = urls[u]
  if v == nil then
    v = redact_url(u)
    if nurls >= CACHE_MAX then urls, nurls = {}, 0 end
    urls[u], nurls = v, nurls + 1
  end
  return v
end

-- A command-line flag whose name says its value is secret: --password,
-- -p is not one (too short to say anything), --db-token, --api-key.
local function secret_flag(a)
  local name = a:match("^%-%-?([%a][%w_.-]*)$")
  return name ~= nil and #name > 1 and secret_name(name) and true or false
end

-- argv(args) -> a copy for the journal and messages: the value of a
-- name=value argument (--password=x, PASSWORD=x) and the argument after a
-- flag (--password x) masked when the name says it is a secret.
function M.argv(args)
  local out, after = {}, false
  for i, a in ipairs(args) do
    a = tostring(a)
    if after then
      out[i], after = M.MASK, false
    else
      local name, sep = a:match("^%-*([%a_][%w_.-]*)(=)")
      if name and sep and secret_name(name) then
        out[i] = a:sub(1, #a:match("^%-*[%a_][%w_.-]*=")) .. M.MASK
      else
        out[i] = a
        after = secret_flag(a)
      end
    end
  end
  return out
end

-- text(s, secrets) -> s with every listed secret value masked.
function M.text(s, secrets)
  s = tostring(s)
  for _, v in ipairs(secrets or {}) do
    if type(v) == "string" and #v >= 4 then
      s = gsub(s, (gsub(v, "%p", "%%%0")), MASK)
    end
  end
  return s
end

return M
