-- summit.window: deployment windows and freeze calendars
-- (docs/stdlib/window.md).
--
--   local window = require("summit.window")
--   local ok, reason, next_open = window.check("production")
--   window.require("production", { override_gate = "freeze-override",
--                                  justification = p.justification })
--
-- summit.lua, top level and per environment:
--
--   windows = {
--     timezone = "Europe/Berlin",          -- UTC, +02:00, or an IANA name
--     allow = { { days = { "mon", "tue", "wed", "thu" }, from = "09:00", to = "16:00" } },
--     deny  = { { from = "2026-12-20", to = "2027-01-04", reason = "year-end freeze" } },
--   }
--
-- Time is the run's journaled now(), so a resumed run decides as it did.
-- The date math is plain Lua (days from the civil calendar); named zones
-- are read from the system's TZif files ($TZDIR, else /usr/share/zoneinfo).
local api = require("summit.api")
local errors = require("summit.errors")
local config = require("summit.config")
local argcheck = require("summit.args")
local util = require("summit.util")

local M = {}

local pack = util.pack

local DAYS = { sun = 0, mon = 1, tue = 2, wed = 3, thu = 4, fri = 5, sat = 6 }
local DAY_NAMES = { [0] = "sun", "mon", "tue", "wed", "thu", "fri", "sat" }
local HORIZON = 400 * 86400   -- how far ahead next_opening looks

-- ---- civil calendar (Howard Hinnant's days_from_civil) ----

local floor = math.floor

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

-- ---- time zones ----

local zones = {}   -- name -> zone (cached for the run)

local function u32(s, i)
  local a, b, c, d = s:byte(i, i + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

local function s32(s, i)
  local v = u32(s, i)
  if v >= 2147483648 then v = v - 4294967296 end
  return v
end

local function s64(s, i)
  local hi, lo = u32(s, i), u32(s, i + 4)
  if hi >= 2147483648 then hi = hi - 4294967296 end
  return hi * 4294967296 + lo
end

-- ---- POSIX TZ rules (the footer of a TZif file: instants after its last
-- transition), e.g. "CET-1CEST,M3.5.0,M10.5.0/3" ----

-- A name (alphabetic, or <quoted>), at position i: the position after it.
local function tz_name(s, i)
  if s:sub(i, i) == "<" then
    local j = s:find(">", i, true)
    return j and j + 1
  end
  local j = i
  while s:sub(j, j):match("%a") do j = j + 1 end
  return j > i + 2 and j or nil
end

-- [+-]hh[:mm[:ss]] at i -> seconds, next position.
local function tz_time(s, i)
  local sign, h, rest = s:match("^([+-]?)(%d+)()", i)
  if not h then return nil end
  local secs = tonumber(h) * 3600
  local m, r2 = s:match("^:(%d+)()", rest)
  if m then
    secs, rest = secs + tonumber(m) * 60, r2
    local sec, r3 = s:match("^:(%d+)()", rest)
    if sec then secs, rest = secs + tonumber(sec), r3 end
  end
  return sign == "-" and -secs or secs, rest
end

-- A rule date: Mm.w.d, Jn or n [/time] -> { kind, ... }, next position.
local function tz_date(s, i)
  local r = {}
  local m, w, d, p = s:match("^M(%d+)%.(%d)%.(%d)()", i)
  if m then
    r.kind, r.m, r.w, r.d = "M", tonumber(m), tonumber(w), tonumber(d)
  else
    local j, pj = s:match("^J(%d+)()", i)
    if j then
      r.kind, r.n, p = "J", tonumber(j), pj
    else
      local n, pn = s:match("^(%d+)()", i)
      if not n then return nil end
      r.kind, r.n, p = "N", tonumber(n), pn
    end
  end
  r.time = 7200
  if s:sub(p, p) == "/" then
    local t, pt = tz_time(s, p + 1)
    if not t then return nil end
    r.time, p = t, pt
  end
  return r, p
end

local function is_leap(y) return (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0 end

-- The local seconds (since the epoch, on the local clock) of rule date r
-- in year y.
local function rule_local(r, y)
  local day
  if r.kind == "M" then
    local first = days_from_civil(y, r.m, 1)
    local wd = (first + 4) % 7
    day = first + (r.d - wd) % 7 + (r.w - 1) * 7
    local mdays = ({ 31, is_leap(y) and 29 or 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 })[r.m]
    while day >= first + mdays do day = day - 7 end
  elseif r.kind == "J" then
    day = days_from_civil(y, 1, 1) + r.n - 1
    if is_leap(y) and r.n >= 60 then day = day + 1 end
  else
    day = days_from_civil(y, 1, 1) + r.n
  end
  return day * 86400 + r.time
end

-- parse_posix_tz(s) -> { std, dst?, start?, stop? } (offsets in seconds
-- east of UTC), or nil.
local function parse_posix_tz(s)
  local p = tz_name(s, 1)
  if not p then return nil end
  local off, q = tz_time(s, p)
  if not off then return nil end
  local rule = { std = -off }
  if q > #s then return rule end
  p = tz_name(s, q)
  if not p then return nil end
  rule.dst = rule.std + 3600
  if s:sub(p, p) ~= "," and p <= #s then
    off, p = tz_time(s, p)
    if not off then return nil end
    rule.dst = -off
  end
  if s:sub(p, p) ~= "," then return nil end   -- no rules: not supported
  rule.start, p = tz_date(s, p + 1)
  if not rule.start or s:sub(p, p) ~= "," then return nil end
  rule.stop, p = tz_date(s, p + 1)
  if not rule.stop or p <= #s then return nil end
  return rule
end

-- The offset a POSIX rule gives at the UTC instant t.
local function rule_offset(rule, t)
  if not rule.dst then return rule.std end
  local y = civil_from_days(floor((t + rule.std) / 86400))
  local on = rule_local(rule.start, y) - rule.std     -- DST starts, in standard time
  local off = rule_local(rule.stop, y) - rule.dst     -- DST ends, in daylight time
  local in_dst
  if on < off then in_dst = t >= on and t < off else in_dst = t >= on or t < off end
  return in_dst and rule.dst or rule.std
end

-- parse_tzif(data) -> { times = {...}, offsets = {...}, initial = seconds,
-- rule = POSIX rule for after the last transition | nil }
local function parse_tzif(data)
  if data:sub(1, 4) ~= "TZif" or #data < 44 then return nil, "not a TZif file" end
  local function counts(at)
    return { isut = u32(data, at + 20), isstd = u32(data, at + 24), leap = u32(data, at + 28),
             time = u32(data, at + 32), type = u32(data, at + 36), char = u32(data, at + 40) }
  end
  local version = data:sub(5, 5)
  local c, at, tsize = counts(1), 45, 4
  if version >= "2" then
    -- Skip the 32-bit block for the 64-bit one that follows it.
    at = at + c.time * 4 + c.time + c.type * 6 + c.char + c.leap * 8 + c.isstd + c.isut
    c = counts(at)
    at, tsize = at + 44, 8
  end
  local need = at + c.time * tsize + c.time + c.type * 6 - 1
  if #data < need or c.type == 0 then return nil, "truncated TZif file" end
  local types = {}
  local tbase = at + c.time * tsize + c.time
  for i = 0, c.type - 1 do
    local p = tbase + i * 6
    types[i] = { off = s32(data, p), dst = data:byte(p + 4) ~= 0 }
  end
  local z = { times = {}, offsets = {} }
  for i = 1, c.time do
    local p = at + (i - 1) * tsize
    z.times[i] = tsize == 8 and s64(data, p) or s32(data, p)
    local idx = data:byte(at + c.time * tsize + i - 1)
    z.offsets[i] = types[idx] and types[idx].off or types[0].off
  end
  -- Before the first transition: the first standard-time type.
  z.initial = types[0].off
  for i = 0, c.type - 1 do
    if not types[i].dst then z.initial = types[i].off break end
  end
  if tsize == 8 then
    -- The footer: "\n" POSIX-TZ "\n" after the 64-bit block.
    local foot = at + c.time * 9 + c.type * 6 + c.char + c.leap * 12 + c.isstd + c.isut
    local tz = data:match("^\n([^\n]*)\n", foot)
    if tz and tz ~= "" then z.rule = parse_posix_tz(tz) end
  end
  return z
end

-- zone(name) -> zone, or nil and why.
local function zone(name)
  if zones[name] then return zones[name] end
  local z
  if name == "UTC" or name == "Z" or name == "GMT" then
    z = { fixed = 0 }
  else
    local sign, hh, mm = name:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then
      sign, hh = name:match("^UTC([+-])(%d%d?)$")
      mm = "00"
    end
    if sign then
      local off = (tonumber(hh) * 60 + tonumber(mm)) * 60
      if tonumber(hh) > 14 or tonumber(mm) > 59 then return nil, "an offset beyond +-14:00" end
      z = { fixed = sign == "-" and -off or off }
    else
      if not name:match("^[%a][%w_+%-]*/?[%w_+%-/]*$") or name:find("..", 1, true) then
        return nil, "not a time zone name"
      end
      local dir = os.getenv("TZDIR") or "/usr/share/zoneinfo"
      local f = io.open(dir .. "/" .. name, "rb")
      if not f then return nil, "no such time zone in " .. dir end
      local data = f:read("*a")
      f:close()
      local why
      z, why = parse_tzif(data)
      if not z then return nil, why end
    end
  end
  z.name = name
  zones[name] = z
  return z
end

-- offset(z, t) -> seconds east of UTC at the UTC instant t.
local function offset(z, t)
  if z.fixed then return z.fixed end
  local times = z.times
  if #times == 0 or t < times[1] then
    if #times == 0 and z.rule then return rule_offset(z.rule, t) end
    return z.initial
  end
  if t >= times[#times] and z.rule then return rule_offset(z.rule, t) end
  local lo, hi = 1, #times
  while lo < hi do
    local mid = floor((lo + hi + 1) / 2)
    if times[mid] <= t then lo = mid else hi = mid - 1 end
  end
  return z.offsets[lo]
end

-- to_utc(z, lt) -> the UTC instant whose local time is lt (seconds since
-- the epoch on the local clock). In a gap (spring forward) it lands after
-- the gap; in an overlap, on the first occurrence.
local function to_utc(z, lt)
  local o1 = offset(z, lt - offset(z, lt))
  local t = lt - o1
  local o2 = offset(z, t)
  if o2 ~= o1 then t = lt - o2 end
  return t
end

local function local_parts(z, t)
  local lt = t + offset(z, t)
  local days = floor(lt / 86400)
  local secs = lt - days * 86400
  return { days = days, secs = secs, wday = (days + 4) % 7, lt = lt }
end

local function iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", floor(t))
end

local function local_text(z, t)
  local p = local_parts(z, t)
  local y, m, d = civil_from_days(p.days)
  local off = floor(p.lt - t)
  local zs = off == 0 and "UTC" or string.format("%s%02d:%02d", off < 0 and "-" or "+",
    floor(math.abs(off) / 3600), floor(math.abs(off) % 3600 / 60))
  return string.format("%04d-%02d-%02d %s %02d:%02d %s", y, m, d, DAY_NAMES[p.wday],
    floor(p.secs / 3600), floor(p.secs % 3600 / 60), zs)
end

-- ---- the configuration ----

local bad = argcheck.bad   -- bad(where, msg): reported by guard (below)

local function clock(where, v)
  local h, m = tostring(v):match("^(%d%d?):(%d%d)$")
  if type(v) ~= "string" or not h or tonumber(h) > 24 or tonumber(m) > 59
      or (tonumber(h) == 24 and tonumber(m) ~= 0) then
    bad(where, "a time of day like \"09:00\" expected, got " .. tostring(v))
  end
  return tonumber(h) * 3600 + tonumber(m) * 60
end

-- "2026-12-20" or "2026-12-20 18:00" (or with a T) -> local seconds,
-- and whether it was a bare date.
local function date(where, v)
  if type(v) ~= "string" then bad(where, "a date like \"2026-12-20\" or \"2026-12-20 18:00\" expected") end
  local y, mo, d, rest = v:match("^(%d%d%d%d)-(%d%d)-(%d%d)(.*)$")
  local h, mi = 0, 0
  if y and rest ~= "" then
    h, mi = rest:match("^[T ](%d%d):(%d%d)$")
    if not h then y = nil end
  end
  y, mo, d, h, mi = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi)
  if not y or mo < 1 or mo > 12 or d < 1 or h > 23 or mi > 59 then
    bad(where, "a date like \"2026-12-20\" or \"2026-12-20 18:00\" expected, got " .. v)
  end
  local days = days_from_civil(y, mo, d)
  local cy, cm, cd = civil_from_days(days)
  if cy ~= y or cm ~= mo or cd ~= d then bad(where, "no such date: " .. v) end
  return days * 86400 + h * 3600 + mi * 60, rest == ""
end

local function check_keys(where, t, known)
  local k = argcheck.unknown(t, known)
  if k ~= nil then
    bad(where, string.format("unknown key '%s' (known: %s)", tostring(k), argcheck.known(known)))
  end
end

-- normalise(where, w) -> { timezone, allow = {...} | nil, deny = {...} }
local function normalise(where, w)
  if type(w) ~= "table" then bad(where, "a table expected") end
  check_keys(where, w, { timezone = true, allow = true, deny = true })
  local out = { timezone = w.timezone, deny = {} }
  if w.timezone ~= nil and type(w.timezone) ~= "string" then bad(where .. ".timezone", "a string expected") end
  if w.allow ~= nil then
    if type(w.allow) ~= "table" then bad(where .. ".allow", "a list of windows expected") end
    out.allow = {}
    for i, a in ipairs(w.allow) do
      local aw = where .. ".allow[" .. i .. "]"
      if type(a) ~= "table" then
        bad(aw, "a table like { days = { \"mon\" }, from = \"09:00\", to = \"16:00\" } expected")
      end
      check_keys(aw, a, { days = true, from = true, to = true, name = true })
      local days = {}
      if a.days == nil then
        for n = 0, 6 do days[n] = true end
      else
        if type(a.days) ~= "table" or #a.days == 0 then
          bad(aw .. ".days", "a list like { \"mon\", \"fri\" } expected")
        end
        for j, dname in ipairs(a.days) do
          local n = DAYS[tostring(dname):lower():sub(1, 3)]
          if type(dname) ~= "string" or not n then
            bad(aw .. ".days[" .. j .. "]", "'" .. tostring(dname)
              .. "' is not a day (mon, tue, wed, thu, fri, sat, sun)")
          end
          days[n] = true
        end
      end
      local from = clock(aw .. ".from", a.from or "00:00")
      local to = clock(aw .. ".to", a.to or "24:00")
      if from == to then bad(aw, "from and to are the same time; leave both out for the whole day") end
      local dl = {}
      for n = 0, 6 do if days[n] then dl[#dl + 1] = DAY_NAMES[n] end end
      out.allow[i] = { days = days, from = from, to = to, name = a.name or string.format("%s %s-%s",
        table.concat(dl, ","), a.from or "00:00", a.to or "24:00") }
    end
    -- An empty list lifts the weekly restriction (an environment's
    -- allow = {} over a top-level one): only freezes apply.
    if #out.allow == 0 then out.allow = false end
  end
  if w.deny ~= nil then
    if type(w.deny) ~= "table" then bad(where .. ".deny", "a list of periods expected") end
    for i, d in ipairs(w.deny) do
      local dw = where .. ".deny[" .. i .. "]"
      if type(d) ~= "table" then
        bad(dw, "a table like { from = \"2026-12-20\", to = \"2027-01-04\", reason = \"...\" } expected")
      end
      check_keys(dw, d, { from = true, to = true, reason = true, name = true })
      if type(d.reason) ~= "string" or d.reason == "" then
        bad(dw .. ".reason", "a reason is required (it is shown to whoever is refused)")
      end
      local from = date(dw .. ".from", d.from)
      local to, whole_day = date(dw .. ".to", d.to)
      if whole_day then to = to + 86400 end   -- a bare end date includes that day
      if to <= from then bad(dw, "ends before it starts") end
      out.deny[#out.deny + 1] = { from = from, to = to, reason = d.reason, name = d.name,
                                  text = d.from .. " to " .. d.to }
    end
  end
  return out
end

-- policy(env_name) -> the merged windows of env_name (nil: top level):
-- the environment's allow list replaces the top level's, deny lists add up,
-- the environment's timezone wins.
local function policy(env_name)
  local cfg = config.current or {}
  local top = cfg.windows and normalise("windows", cfg.windows) or { deny = {} }
  local p = { timezone = top.timezone, allow = top.allow, deny = {} }
  for _, d in ipairs(top.deny) do p.deny[#p.deny + 1] = d end
  if env_name then
    local envs = type(cfg.environments) == "table" and cfg.environments or {}
    local e = envs[env_name]
    if type(e) ~= "table" then
      bad("env", string.format("unknown environment '%s' (summit.lua defines: %s)", env_name,
        argcheck.known(envs)))
    end
    if e.windows ~= nil then
      local ew = normalise("environments." .. env_name .. ".windows", e.windows)
      if ew.timezone then p.timezone = ew.timezone end
      if ew.allow ~= nil then p.allow = ew.allow end
      for _, d in ipairs(ew.deny) do p.deny[#p.deny + 1] = d end
    end
  end
  local z, why = zone(p.timezone or "UTC")
  if not z then bad("windows.timezone", string.format("'%s': %s", tostring(p.timezone), why)) end
  p.zone = z
  return p
end

-- ---- the decision ----

local function in_deny(p, t)
  for _, d in ipairs(p.deny) do
    local a, b = to_utc(p.zone, d.from), to_utc(p.zone, d.to)
    if t >= a and t < b then return d, b end
  end
end

-- in_allow(p, t) -> the allow entry t falls in (a window past midnight
-- belongs to the day it starts on).
local function in_allow(p, t)
  if not p.allow then return true end
  local lp = local_parts(p.zone, t)
  for _, a in ipairs(p.allow) do
    if a.from < a.to then
      if a.days[lp.wday] and lp.secs >= a.from and lp.secs < a.to then return a end
    else
      if a.days[lp.wday] and lp.secs >= a.from then return a end
      if a.days[(lp.wday + 6) % 7] and lp.secs < a.to then return a end
    end
  end
end

-- next_allow_start(p, t) -> the first allow start after t.
local function next_allow_start(p, t)
  local lp = local_parts(p.zone, t)
  local best
  for dd = 0, 8 do
    local day = lp.days + dd
    local wday = (day + 4) % 7
    for _, a in ipairs(p.allow) do
      if a.days[wday] then
        local c = to_utc(p.zone, day * 86400 + a.from)
        if c > t and (not best or c < best) then best = c end
      end
    end
    if best then return best end
  end
  return best
end

-- decide(p, t) -> allowed, reason, next_opening, detail
local function decide(p, t, env_name)
  local where = env_name or "deployments"
  local d = in_deny(p, t)
  local a = in_allow(p, t)
  local detail = { env = env_name, at = iso(t), local_time = local_text(p.zone, t), timezone = p.zone.name }
  if not d and a then
    detail.allowed = true
    local reason
    if a == true then
      reason = string.format("%s: no window or freeze applies at %s", where, detail.local_time)
    else
      detail.window = a.name
      reason = string.format("%s: inside window %s (%s)", where, a.name, detail.local_time)
    end
    detail.reason = reason
    return true, reason, nil, detail
  end
  -- When does it open? Skip freezes and closed hours until both allow.
  local c, limit = t, t + HORIZON
  for _ = 1, 2000 do
    local dd, dend = in_deny(p, c)
    if dd then
      c = dend
    elseif not in_allow(p, c) then
      c = next_allow_start(p, c)
      if not c then break end
    else
      break
    end
    if c > limit then c = nil break end
  end
  local reason
  if d then
    detail.freeze = { reason = d.reason, name = d.name, period = d.text }
    reason = string.format("%s: inside freeze %s(%s): %s, at %s", where,
      d.name and ("'" .. d.name .. "' ") or "", d.text, d.reason, detail.local_time)
  else
    reason = string.format("%s: outside the deployment windows at %s", where, detail.local_time)
  end
  if c then
    detail.next_opening = iso(c)
    reason = reason .. string.format("; next opening %s", local_text(p.zone, c))
  else
    reason = reason .. "; no opening within 400 days"
  end
  detail.allowed = false
  detail.reason = reason
  return false, reason, c, detail
end

local function env_arg(env)
  if env == nil then return config.env and config.env.name or nil end
  if type(env) ~= "string" or env == "" then bad("env", "an environment name expected") end
  return env
end

local function check_args(env, o)
  env = env_arg(env)
  if o ~= nil and type(o) ~= "table" then bad("opts", "a table expected") end
  o = o or {}
  if o.at ~= nil and (type(o.at) ~= "number" or o.at ~= o.at) then
    bad("at", "seconds since the epoch expected")
  end
  return env, policy(env), o
end

local function guard(fname, f, ...)
  local r = pack(pcall(f, ...))
  if not r[1] then
    local e = r[2]
    if argcheck.is_bad(e) then
      -- A mistake in summit.lua's windows is the configuration's, not the call's.
      if e.arg:match("^windows") or e.arg:match("^environments%.") then
        error(string.format("%s: %s: %s: %s", fname, config.path or "summit.lua", e.arg, e.msg), 3)
      end
      error(argcheck.message(fname, e.arg, e.msg), 3)
    end
    error(r[2], 0)
  end
  return unpack(r, 2, r.n)
end

-- window.check([env] [, { at = seconds }]) -> allowed, reason,
-- next_opening (seconds since the epoch, nil when allowed), detail.
-- env: an environment of summit.lua (default: the run's --env; nil and no
-- --env: the top-level windows only). at: the instant to judge (default
-- now(), journaled).
function M.check(env, o)
  local name, p, opts = guard("window.check", check_args, env, o)
  local t = opts.at or api.now()
  return decide(p, t, name)
end

-- window.require([env] [, { override_gate, justification, roles, count,
--   timeout }]) -> detail. A journaled step: allowed, it returns; inside a
-- freeze or outside the windows it raises EWINDOW, unless override_gate is
-- given with a justification: then the gate must be approved (approval.
-- require, the justification in its reason and bind) and the override is
-- audited as window.override.
function M.require(env, o)
  local name, p, opts = guard("window.require", check_args, env, o)
  local og = opts.override_gate
  if og ~= nil and (type(og) ~= "string" or og == "") then
    error(argcheck.message("window.require", "override_gate", "a gate name expected"), 2)
  end
  local just = opts.justification
  if just ~= nil and type(just) ~= "string" then
    error(argcheck.message("window.require", "justification", "a string expected"), 2)
  end
  return api.step("window " .. (name or "check"), function()
    local t = opts.at or api.now()
    local allowed, reason, next_open, detail = decide(p, t, name)
    if allowed then return detail end
    if not og then
      error(errors.new("EWINDOW", reason, { env = name, next_opening = next_open and iso(next_open) }), 0)
    end
    if not just or just:match("^%s*$") then
      error(errors.new("EWINDOW", reason .. "; an override needs a justification", {
        env = name, next_opening = next_open and iso(next_open) }), 0)
    end
    api.log.warn("%s; asking gate '%s' for an override: %s", reason, og, just)
    local a = api.approval.require{
      gate = og, roles = opts.roles, count = opts.count, timeout = opts.timeout,
      reason = "override: " .. reason .. " -- justification: " .. just,
      bind = { env = name or "", justification = just },
    }
    local by = {}
    for i, ap in ipairs(a.approvers or {}) do by[i] = ap.actor end
    api.audit.record("window.override", {
      env = name, reason = reason, justification = just, gate = og, approvers = by,
      freeze = detail.freeze and detail.freeze.reason or nil,
    })
    detail.overridden = true
    detail.justification = just
    detail.approvers = by
    return detail
  end)
end

-- problems(cfg) -> { { key =, message = }, ... }: what is wrong with the
-- windows of a summit.lua table (called when summit.lua is loaded, so a
-- bad calendar stops a run before it starts). key is the top-level key or
-- the environment's name, for the line number.
function M.problems(cfg)
  local out = {}
  local function one(key, where, w)
    local ok, e = pcall(normalise, where, w)
    if not ok then
      out[#out + 1] = { key = key, message = argcheck.is_bad(e) and (e.arg .. ": " .. e.msg) or tostring(e) }
      return
    end
    if e.timezone then
      local z, why = zone(e.timezone)
      if not z then
        out[#out + 1] = { key = "timezone", message = string.format("%s.timezone: '%s': %s", where, e.timezone, why) }
      end
    end
  end
  if type(cfg.windows) == "table" then one("windows", "windows", cfg.windows) end
  if type(cfg.environments) == "table" then
    for name, e in pairs(cfg.environments) do
      if type(e) == "table" and type(e.windows) == "table" then
        one(name, "environments." .. tostring(name) .. ".windows", e.windows)
      end
    end
  end
  return out
end

-- window.wait([env] [, opts]): sleeps (durably) until the window opens.
function M.wait(env, o)
  local name, p, opts = guard("window.wait", check_args, env, o)
  local t = opts.at or api.now()
  local allowed, reason, next_open = decide(p, t, name)
  if allowed then return end
  if not next_open then error(errors.new("EWINDOW", reason, { env = name }), 0) end
  api.log.info("%s; waiting", reason)
  api.sleep(math.max(0, math.ceil(next_open - t)))
end

-- Exposed for tests and tools: local date math on a zone.
M._zone, M._to_utc, M._offset, M._days_from_civil = zone, to_utc, offset, days_from_civil
M._rule_offset = rule_offset

return M
