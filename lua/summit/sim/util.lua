-- Small helpers shared by the simulated cluster: lossless JSON, deep
-- copies, Kubernetes-style timestamps and durations, names and hashes,
-- globs and a seeded random number generator.

-- copy() below recurses through pairs(): it is why every lua_State runs
-- LuaJIT's interpreter (engine/host.c, LuaJIT issue #827: a blacklisted
-- trace at a running pairs() loop silently cut such copies short).

local S = require("summit.c.server")
local T = require("summit.c.task")
local bit = require("bit")

local M = {}

-- JSON that keeps null (json.null) and empty arrays (json.array marker):
-- a merge patch deletes with null, and a Go client rejects {} for a list.
local json = S.json
M.json = json
M.null = json.null
M.array = json.array
M.is_array = json.is_array

function M.encode(v) return json.encode(v) end
function M.decode(s) return json.decode(s) end
-- Sorted keys: the canonical form, equal for equal values.
function M.canonical(v) return json.encode(v, true) end

-- A new array (marked, so it encodes as [] even when empty).
function M.A(t) return json.array(t or {}) end

-- Deep copy that keeps the array marker.
local function copy(v)
  if type(v) ~= "table" then return v end
  local r = {}
  for k, x in pairs(v) do r[k] = copy(x) end
  if json.is_array(v) then json.array(r) end
  return r
end
M.copy = copy

-- Removes json.null values (in place, recursively) and returns v: what
-- the API server stores never holds a null, as a Go struct cannot.
function M.strip_nulls(v)
  if type(v) ~= "table" then return v end
  if json.is_array(v) then
    local out, n = {}, 0
    for i = 1, #v do
      if v[i] ~= json.null then
        n = n + 1
        out[n] = M.strip_nulls(v[i])
      end
    end
    for i = #v, 1, -1 do v[i] = nil end
    for i = 1, n do v[i] = out[i] end
    return v
  end
  for k, x in pairs(v) do
    if x == json.null then v[k] = nil else M.strip_nulls(x) end
  end
  return v
end

function M.equal(a, b) return M.canonical(a) == M.canonical(b) end

-- Reads t.a.b.c for a path {"a", "b", "c"} or "a.b.c"; nil when missing.
function M.dig(t, path)
  if type(path) == "string" then path = M.split(path, ".") end
  for _, k in ipairs(path) do
    if type(t) ~= "table" then return nil end
    t = t[k]
  end
  return t
end

-- Ensures t[k] is a table and returns it.
function M.sub(t, k)
  if type(t[k]) ~= "table" then t[k] = {} end
  return t[k]
end

function M.split(s, sep)
  local out, start = {}, 1
  while true do
    local i = string.find(s, sep, start, true)
    if not i then
      out[#out + 1] = string.sub(s, start)
      return out
    end
    out[#out + 1] = string.sub(s, start, i - 1)
    start = i + #sep
  end
end

function M.trim(s) return (string.gsub(s, "^%s+", ""):gsub("%s+$", "")) end

function M.keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

-- ---- time ----------------------------------------------------------------

function M.now_ms() return T.now_ms() end

-- RFC 3339 in UTC with seconds, as Kubernetes writes metav1.Time.
function M.rfc3339(ms)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(ms / 1000))
end

-- With nanoseconds, as kubelet writes log timestamps.
function M.rfc3339nano(ms)
  local s = math.floor(ms / 1000)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) ..
    string.format(".%09dZ", math.floor((ms - s * 1000) * 1e6 + 0.5))
end

-- Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm), so
-- parsing does not depend on the local time zone.
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- Milliseconds of an RFC 3339 time (UTC "Z" or an offset), or nil.
function M.parse_time(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, sec, rest =
    s:match("^(%d%d%d%d)-(%d%d)-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  local ms = 0
  local frac, tz = rest:match("^%.(%d+)(.*)$")
  if frac then
    ms = tonumber("0." .. frac) * 1000
    rest = tz
  end
  local off = 0
  if rest ~= "Z" and rest ~= "z" then
    local sign, oh, om = rest:match("^([+-])(%d%d):(%d%d)$")
    if not sign then return nil end
    off = (tonumber(oh) * 60 + tonumber(om)) * 60
    if sign == "-" then off = -off end
  end
  local days = days_from_civil(tonumber(y), tonumber(mo), tonumber(d))
  local secs = days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 +
    tonumber(sec) - off
  return secs * 1000 + ms
end

-- kubectl's AGE format (k8s.io/apimachinery/pkg/util/duration.HumanDuration).
function M.human_duration(seconds)
  local s = math.floor(seconds)
  if s < -1 then return "<invalid>" end
  if s < 0 then return "0s" end
  if s < 120 then return s .. "s" end
  local minutes = math.floor(s / 60)
  if minutes < 10 then
    local r = s % 60
    return r == 0 and (minutes .. "m") or string.format("%dm%ds", minutes, r)
  elseif minutes < 180 then
    return minutes .. "m"
  end
  local hours = math.floor(s / 3600)
  if hours < 8 then
    local r = minutes % 60
    return r == 0 and (hours .. "h") or string.format("%dh%dm", hours, r)
  elseif hours < 48 then
    return hours .. "h"
  elseif hours < 24 * 8 then
    local r = hours % 24
    local d = math.floor(hours / 24)
    return r == 0 and (d .. "d") or string.format("%dd%dh", d, r)
  elseif hours < 24 * 365 * 2 then
    return math.floor(hours / 24) .. "d"
  elseif hours < 24 * 365 * 8 then
    local y = math.floor(hours / 24 / 365)
    local dy = math.floor(hours / 24) % 365
    return dy == 0 and (y .. "y") or string.format("%dy%dd", y, dy)
  end
  return math.floor(hours / 24 / 365) .. "y"
end

-- Age of an RFC 3339 timestamp, as kubectl prints it ("<unknown>" if none).
function M.age(ts, now_ms)
  local t = M.parse_time(ts)
  if not t then return "<unknown>" end
  return M.human_duration(((now_ms or M.now_ms()) - t) / 1000)
end

-- ---- names and hashes ----------------------------------------------------

-- FNV-1a, 32 bits: what Kubernetes hashes pod templates with.
function M.fnv32a(s)
  local h = 2166136261
  for i = 1, #s do
    h = bit.bxor(h, string.byte(s, i))
    -- h * 16777619 mod 2^32, split so the product stays exact in a double.
    local lo = bit.band(h, 0xffff)
    local hi = bit.rshift(h, 16) % 0x10000
    h = (lo * 16777619 + ((hi * 16777619) % 0x10000) * 0x10000) % 0x100000000
  end
  return h
end

-- k8s.io/apimachinery/pkg/util/rand: the alphabet of generated names, no
-- vowels (no words) and no look-alikes.
local ALNUM = "bcdfghjklmnpqrstvwxz2456789"
M.ALNUM = ALNUM

-- rand.SafeEncodeString: each byte mapped into the alphabet.
function M.safe_encode(s)
  local out = {}
  for i = 1, #s do
    local k = string.byte(s, i) % #ALNUM + 1
    out[i] = string.sub(ALNUM, k, k)
  end
  return table.concat(out)
end

-- The pod-template-hash of a template: FNV-32a of its canonical JSON (the
-- hash label itself, nulls and empty maps/lists left out, so a template
-- read back from a ReplicaSet hashes like the one it came from), encoded
-- as Kubernetes does.
function M.template_hash(template)
  local t = M.copy(template or {})
  local labels = M.dig(t, { "metadata", "labels" })
  if labels then labels["pod-template-hash"] = nil end
  local function prune(v)
    if type(v) ~= "table" then return v end
    local is_arr = json.is_array(v)
    for k, x in pairs(v) do
      if x == json.null then
        v[k] = nil
      elseif type(x) == "table" then
        prune(x)
        if next(x) == nil and not is_arr then v[k] = nil end
      end
    end
    return v
  end
  prune(t)
  return M.safe_encode(tostring(M.fnv32a(M.canonical(t))))
end

-- ---- patterns -------------------------------------------------------------

-- Shell-style glob: '*' any run of characters, '?' one; the rest literal.
function M.glob(pattern, s)
  if type(pattern) ~= "string" or type(s) ~= "string" then return false end
  if not pattern:find("[%*%?]") then return pattern == s end
  local p = pattern:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0")
  p = p:gsub("%*", ".*"):gsub("%?", ".")
  return s:match("^" .. p .. "$") ~= nil
end

function M.glob_any(patterns, s)
  for _, p in ipairs(patterns or {}) do
    if M.glob(p, s) then return true end
  end
  return false
end

-- ---- randomness -------------------------------------------------------------

-- A seeded generator (xorshift32), so a scenario replays the same names
-- and the same injected errors for the same seed. state() / set_state()
-- let the sim persist it.
function M.rng(seed)
  -- Small seeds make xorshift start with runs of near-equal outputs:
  -- hash the seed and skip the first few.
  local x = bit.tobit(M.fnv32a("seed:" .. tostring(tonumber(seed) or 1)))
  if x == 0 then x = 0x2545F491 end
  local r = {}
  function r.u32()
    x = bit.bxor(x, bit.lshift(x, 13))
    x = bit.bxor(x, bit.rshift(x, 17))
    x = bit.bxor(x, bit.lshift(x, 5))
    return x % 0x100000000
  end
  function r.float() return r.u32() / 0x100000000 end
  function r.int(n) return r.u32() % n + 1 end
  function r.chars(n)
    local out = {}
    for i = 1, n do
      local k = r.int(#ALNUM)
      out[i] = ALNUM:sub(k, k)
    end
    return table.concat(out)
  end
  function r.state() return x end
  function r.set_state(v) if v and v ~= 0 then x = bit.tobit(v) end end
  for _ = 1, 8 do r.u32() end
  return r
end

return M
