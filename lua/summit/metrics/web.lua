-- The `web` metrics provider (docs/metrics.md#web): any HTTP endpoint
-- answering JSON, and a JSONPath selecting the value in it, as Argo
-- Rollouts' web metric (url, method, headers, body / jsonBody, jsonPath,
-- timeoutSeconds).
local json = require("summit.json")
local errors = require("summit.errors")
local util = require("summit.util")
local jsonpath = require("summit.jsonpath")
local R = require("summit.metrics.request")

local M = {}

M.QUERY_KEYS = { url = "string", path = "string", method = "string", headers = "table",
                 body = true, json_path = "string" }
local METHODS = { GET = true, POST = true, PUT = true }

-- check_query(q) -> nil, or what is wrong with q (a URL / path, or a
-- table of QUERY_KEYS).
function M.check_query(q)
  if type(q) == "string" then
    if q == "" then return "an empty URL" end
    return nil
  end
  if type(q) ~= "table" then return "a URL or a table { url =, json_path =, ... } expected" end
  local bad = R.unknown_key(q, M.QUERY_KEYS)
  if bad then return bad end
  if q.body ~= nil and type(q.body) ~= "string" and type(q.body) ~= "table" then
    return "body: a string or a table (sent as JSON) expected"
  end
  if q.method and not METHODS[q.method:upper()] then return "method: GET, POST or PUT expected" end
  if q.url and q.path then return "url or path, not both" end
  return nil
end

-- The JSON text escaping of a value placed inside a JSON string.
local function json_escape(v) return (json.encode(tostring(v)):sub(2, -2)) end

-- expand(q, vars, fill) -> q with {{var}} filled in: URL-encoded in the
-- URL, JSON-escaped in the body.
function M.expand(q, vars, fill)
  if type(q) == "string" then return fill(q, vars, util.urlencode) end
  local out = {}
  for k, v in pairs(q) do out[k] = v end
  if q.url then out.url = fill(q.url, vars, util.urlencode) end
  if q.path then out.path = fill(q.path, vars, util.urlencode) end
  if type(q.body) == "string" then out.body = fill(q.body, vars, json_escape) end
  return out
end

local function url_of(p, q)
  local u = type(q) == "string" and q or (q.url or q.path or "")
  if u:match("^%a[%w+.-]*://") then return u end
  if type(p.url) ~= "string" or p.url == "" then
    error(errors.new("ENOMETRICS", "metrics: the web provider has no url, and the query's is "
      .. "relative: " .. u), 0)
  end
  if u == "" then return p.url end
  return (p.url:gsub("/+$", "")) .. "/" .. (u:gsub("^/+", ""))
end

-- number(v, path) -> the value a JSONPath match stands for.
local function number(v, path)
  if type(v) == "number" then return v end
  if type(v) == "boolean" then return v and 1 or 0 end
  if type(v) == "string" then
    local n = require("summit.metrics").number(v)
    if n then return n end
  end
  error(errors.new("EMETRICS", string.format("metrics: the JSONPath %s selects %s, not a number",
    path, type(v) == "string" and string.format("%q", v:sub(1, 100)) or ("a " .. type(v))),
    { retryable = false }), 0)
end

local function fmt(v)
  if v ~= v then return "NaN" end
  if v == math.huge then return "+Inf" end
  if v == -math.huge then return "-Inf" end
  return string.format("%.17g", v)
end

-- values(p, q) -> the numbers the JSONPath selects in the answer.
local function values(p, q)
  local t = type(q) == "table" and q or {}
  local path = t.json_path or p.json_path
  if not path then
    error(errors.new("ENOMETRICS", "metrics: a web metric needs json_path (in the query or the provider)"), 0)
  end
  local steps, why = jsonpath.parse(path)
  if not steps then
    error(errors.new("EMETRICS", "metrics: bad json_path " .. path .. ": " .. why, { retryable = false }), 0)
  end
  local headers = { Accept = "application/json" }
  for k, v in pairs(p.headers or {}) do headers[tostring(k)] = tostring(v) end
  for k, v in pairs(t.headers or {}) do headers[tostring(k)] = tostring(v) end
  local body = t.body
  if type(body) == "table" then
    body = json.encode(body)
    headers["Content-Type"] = headers["Content-Type"] or "application/json"
  end
  local method = (t.method or p.method or (body and "POST" or "GET")):upper()
  local url = url_of(p, q)
  local r = R.send{ method = method, url = url, headers = headers, body = body, timeout = p.timeout,
                    fields = { provider = "web" } }
  if r.status < 200 or r.status > 299 then
    R.fail("EHTTP", r, method .. " " .. r.shown, r.body, { provider = "web" })
  end
  local doc = R.decode(r)
  if doc == nil then
    local ok, scalar = pcall(json.decode, r.body)
    if not ok then
      error(errors.new("EBADJSON", string.format("metrics: %s %s answered %d with something that "
        .. "is not JSON: %s", method, r.shown, r.status, r.body:sub(1, 200)),
        { status = r.status, url = r.shown }), 0)
    end
    doc = scalar
  end
  local out = {}
  for _, v in ipairs(jsonpath.eval(steps, doc)) do
    if v ~= json.null then out[#out + 1] = number(v, path) end
  end
  return out
end

-- instant(p, q, at) -> a vector as the journal keeps it: one sample per
-- value selected (labels { index = "N" } when there are several).
function M.instant(p, q, at)
  local vs = values(p, q)
  local res = {}
  for i, v in ipairs(vs) do
    res[i] = { labels = #vs > 1 and { index = tostring(i - 1) } or {}, t = at, v = fmt(v) }
  end
  return { type = "vector", result = res }
end

-- range(p, q, from, to) -> one series: every value selected is a sample
-- (the endpoint knows no time range; a list it answers is the samples).
function M.range(p, q, _, to)
  local vs = values(p, q)
  if #vs == 0 then return { type = "matrix", result = {} } end
  local pts = {}
  for i, v in ipairs(vs) do pts[i] = { to, fmt(v) } end
  return { type = "matrix", result = { { labels = {}, values = pts } } }
end

return M
