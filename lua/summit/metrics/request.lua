-- One HTTP request of a metrics provider (docs/metrics.md), on summit's
-- HTTP layer (summit.c.http): the request every provider makes the same
-- way, with the credentials it carries kept out of error messages.
local E = require("summit.engine")
local T = require("summit.c.task")
local H = require("summit.c.http")
local S = require("summit.c.secrets")
local json = require("summit.json")
local errors = require("summit.errors")
local redact = require("summit.redact")
local config = require("summit.config")

local M = {}

M.DEFAULT_TIMEOUT = "10s"

-- secret(name, value) -> value, registered as a secret of the run (so it
-- is redacted from the journal, the audit, events and logs), or raises
-- ENOMETRICS when it is too short to be redacted.
function M.secret(name, value)
  local ok, why = S.add(name, value)
  if not ok then
    error(errors.new("ENOMETRICS", string.format("metrics: %s: %s", name, why)), 0)
  end
  return value
end

-- send{ method, url, headers, body, timeout, secrets, fields } -> r: the
-- answer ({status, headers, body, shown = the URL as it may be shown}),
-- whatever its status. A transport failure raises its code
-- (ECONNREFUSED, ETIMEDOUT, ...) with fields added and the run's secrets
-- and the texts of `secrets` (header values, URL credentials) masked.
function M.send(o)
  local shown = redact.url(o.url)
  local secrets = {}
  for _, v in ipairs(o.secrets or {}) do secrets[#secrets + 1] = v end
  -- Secret-looking headers (a web provider's Authorization, an API key)
  -- become secrets of the run, redacted wherever their value shows up.
  for k, v in pairs(o.headers or {}) do
    if redact.is_secret_header(tostring(k)) then
      S.add("metrics header " .. tostring(k), tostring(v))
      secrets[#secrets + 1] = tostring(v)
    end
  end
  local timeout_ms = T.duration_ms(o.timeout or M.DEFAULT_TIMEOUT)
  local r, code, msg = H.request({
    method = o.method, url = o.url, headers = o.headers, body = o.body,
    timeout_ms = timeout_ms, deadline_ms = E.deadline(),
    max_per_host = (config.http_caps()), max_total = select(2, config.http_caps()),
  })
  if not r then
    local fields = { url = shown }
    for k, v in pairs(o.fields or {}) do fields[k] = v end
    error(errors.new(code, redact.text(S.redact(string.format("metrics: %s %s: %s", o.method,
      shown, msg)), secrets), fields), 0)
  end
  r.shown = shown
  return r
end

-- unknown_key(q, keys, names) -> nil, or what is wrong with the keys of
-- a query table (keys: key -> Lua type, true: any).
function M.unknown_key(q, keys)
  for k, v in pairs(q) do
    local want = keys[k]
    if not want then
      local names = {}
      for n in pairs(keys) do names[#names + 1] = n end
      table.sort(names)
      return "unknown key '" .. tostring(k) .. "' (known: " .. table.concat(names, ", ") .. ")"
    end
    if want ~= true and type(v) ~= want then return k .. ": a " .. want .. " expected" end
  end
  return nil
end

-- series(fetch, points, labels_of) -> instant, range: the queries of a
-- provider that answers a list of series (Datadog, CloudWatch).
-- fetch(p, q, from, to) -> the list; points(s) -> { {t, "v"}, ... } oldest
-- first; labels_of(s) -> labels. An instant query looks back
-- p.interval (default 5m) and takes each series' newest point.
function M.series(fetch, points, labels_of)
  local function instant(p, q, at)
    local from = at - T.duration_ms(p.interval or "5m") / 1000
    local out = {}
    for _, s in ipairs(fetch(p, q, from, at)) do
      local pts = points(s)
      local last = pts[#pts]
      if last then out[#out + 1] = { labels = labels_of(s), t = last[1], v = last[2] } end
    end
    return { type = "vector", result = out }
  end
  local function range(p, q, from, to)
    local out = {}
    for _, s in ipairs(fetch(p, q, from, to)) do
      out[#out + 1] = { labels = labels_of(s), values = points(s) }
    end
    return { type = "matrix", result = out }
  end
  return instant, range
end

-- decode(r) -> the JSON document of an answer, or nil.
function M.decode(r)
  local ok, doc = pcall(json.decode, r.body)
  if ok and type(doc) == "table" then return doc end
  return nil
end

-- fail(code, r, what, detail, fields): raises code for an answer r that
-- is an error; 4xx answers other than 429 are not retryable.
function M.fail(code, r, what, detail, fields)
  local f = { status = r.status, url = r.shown }
  for k, v in pairs(fields or {}) do f[k] = v end
  if r.status >= 400 and r.status < 500 and r.status ~= 429 then f.retryable = false end
  error(errors.new(code, S.redact(string.format("metrics: %s answered %d: %s", what, r.status,
    tostring(detail):sub(1, 300))), f), 0)
end

return M
