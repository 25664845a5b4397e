-- The `datadog` metrics provider (docs/metrics.md#datadog): a metric
-- query of Datadog's v1 query API, GET /api/v1/query?from=&to=&query=,
-- authenticated by the DD-API-KEY and DD-APPLICATION-KEY headers. Both
-- keys are secrets of the run.
local errors = require("summit.errors")
local util = require("summit.util")
local R = require("summit.metrics.request")

local M = {}

M.DEFAULT_URL = "https://api.datadoghq.com"

function M.check_query(q)
  if type(q) ~= "string" or not q:find("%S") then return "a Datadog metric query (a string) expected" end
  return nil
end

-- A value in a Datadog query sits in a tag filter or a scope: only
-- characters that cannot end it or start another clause are allowed.
local function tag_value(v)
  v = tostring(v)
  if not v:match("^[%w_.:/%-]*$") then
    error(errors.new("ETEMPLATE", string.format("the value %q cannot go into a Datadog query "
      .. "(letters, digits and _ . : / - only)", v:sub(1, 60))), 0)
  end
  return v
end

function M.expand(q, vars, fill) return fill(q, vars, tag_value) end

local function fetch(p, q, from, to)
  local base = (p.url or M.DEFAULT_URL):gsub("/+$", "")
  local url = string.format("%s/api/v1/query?from=%d&to=%d&query=%s", base, math.floor(from),
    math.ceil(to), util.urlencode(q))
  local headers = {
    Accept = "application/json",
    ["DD-API-KEY"] = R.secret("metrics datadog api_key", p.api_key),
    ["DD-APPLICATION-KEY"] = R.secret("metrics datadog app_key", p.app_key),
  }
  local r = R.send{ method = "GET", url = url, headers = headers, timeout = p.timeout,
                    fields = { provider = "datadog", query = q } }
  local doc = R.decode(r)
  if r.status < 200 or r.status > 299 then
    local why = doc and doc.errors and table.concat(doc.errors, "; ") or r.body
    R.fail("EHTTP", r, "Datadog", why, { provider = "datadog", query = q })
  end
  if doc == nil then
    error(errors.new("EBADJSON", "metrics: Datadog answered something that is not JSON: "
      .. r.body:sub(1, 200), { status = r.status, url = r.shown }), 0)
  end
  if doc.status == "error" then
    error(errors.new("EMETRICS", "metrics: Datadog: " .. tostring(doc.error),
      { provider = "datadog", query = q, retryable = false }), 0)
  end
  return doc.series or {}
end

local function labels_of(s)
  local l = {}
  for _, tag in ipairs(type(s.tag_set) == "table" and s.tag_set or {}) do
    local k, v = tostring(tag):match("^([^:]+):(.*)$")
    if k then l[k] = v end
  end
  if s.scope then l.scope = tostring(s.scope) end
  if s.metric then l.__name__ = tostring(s.metric) end
  return l
end

local function str(v) return string.format("%.17g", v) end

local function points(s)
  local out = {}
  for _, pt in ipairs(type(s.pointlist) == "table" and s.pointlist or {}) do
    if type(pt) == "table" and type(pt[1]) == "number" and type(pt[2]) == "number" then
      out[#out + 1] = { pt[1] / 1000, str(pt[2]) }
    end
  end
  return out
end

-- instant: the last non-null point of each series over [at - interval,
-- at]; range: every point of each series (Datadog picks its own rollup;
-- step is not sent: add .rollup(avg, N) to the query to choose it).
M.instant, M.range = R.series(fetch, points, labels_of)

return M
