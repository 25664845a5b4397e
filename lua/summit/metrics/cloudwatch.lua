-- The `cloudwatch` metrics provider (docs/metrics.md#cloudwatch): Amazon
-- CloudWatch's GetMetricData over its JSON 1.0 protocol (POST /, X-Amz-Target
-- GraniteServiceVersion20100801.GetMetricData), signed with AWS
-- Signature Version 4 (summit.sigv4). The secret access key and the
-- session token are secrets of the run; the access key id is not secret
-- (it is in every Authorization header) but is not printed either.
local json = require("summit.json")
local errors = require("summit.errors")
local T = require("summit.c.task")
local sigv4 = require("summit.sigv4")
local R = require("summit.metrics.request")

local M = {}

M.QUERY_KEYS = { expression = "string", namespace = "string", metric = "string",
                 dimensions = "table", stat = "string", unit = "string", period = true,
                 queries = "table" }
local TARGET = "GraniteServiceVersion20100801.GetMetricData"

-- A query: a metric math or SEARCH expression (a string), or a table:
-- { namespace, metric, dimensions = { Name = "value" }, stat, period, unit },
-- { expression, period }, or { queries = <MetricDataQueries as AWS spells them> }.
function M.check_query(q)
  if type(q) == "string" then
    if not q:find("%S") then return "an empty expression" end
    return nil
  end
  if type(q) ~= "table" then return "an expression (string) or a table { namespace, metric, stat, ... } expected" end
  local bad = R.unknown_key(q, M.QUERY_KEYS)
  if bad then return bad end
  if q.queries then return nil end
  if q.expression then return nil end
  if not (q.namespace and q.metric and q.stat) then
    return "namespace, metric and stat (or expression, or queries) are needed"
  end
  return nil
end

local function plain(v)
  v = tostring(v)
  if v:find("['\"\\\n]") then
    error(errors.new("ETEMPLATE", string.format("the value %q cannot go into a CloudWatch "
      .. "expression (no quotes or backslashes)", v:sub(1, 60))), 0)
  end
  return v
end
local function raw(v) return tostring(v) end

function M.expand(q, vars, fill)
  if type(q) == "string" then return fill(q, vars, plain) end
  local out = {}
  for k, v in pairs(q) do out[k] = v end
  if q.expression then out.expression = fill(q.expression, vars, plain) end
  if q.dimensions then
    out.dimensions = {}
    for k, v in pairs(q.dimensions) do
      out.dimensions[k] = type(v) == "string" and fill(v, vars, raw) or v
    end
  end
  return out
end

-- The MetricDataQueries of a query.
local function data_queries(p, q)
  if type(q) == "table" and q.queries then return q.queries end
  local period = (type(q) == "table" and q.period) or p.period or 60
  if type(q) == "string" or q.expression then
    return { { Id = "q", Expression = type(q) == "string" and q or q.expression,
               Period = period, ReturnData = true } }
  end
  local dims, names = {}, {}
  for k in pairs(q.dimensions or {}) do names[#names + 1] = k end
  table.sort(names)
  for i, k in ipairs(names) do dims[i] = { Name = k, Value = tostring(q.dimensions[k]) } end
  return { { Id = "q", ReturnData = true, MetricStat = {
    Metric = { Namespace = q.namespace, MetricName = q.metric, Dimensions = dims[1] and dims or nil },
    Period = period, Stat = q.stat, Unit = q.unit } } }
end

local function fetch(p, q, from, to)
  local url = p.endpoint or ("https://monitoring." .. p.region .. ".amazonaws.com/")
  if not url:match("^%a[%w+.-]*://[^/]+/") then url = url .. "/" end
  local body = json.encode({ MetricDataQueries = data_queries(p, q), StartTime = math.floor(from),
                             EndTime = math.ceil(to), ScanBy = "TimestampDescending" })
  local headers = sigv4.sign{
    method = "POST", url = url, body = body, region = p.region, service = "monitoring",
    headers = { ["Content-Type"] = "application/x-amz-json-1.0", ["X-Amz-Target"] = TARGET },
    access_key = p.access_key_id,
    secret_key = R.secret("metrics cloudwatch secret_access_key", p.secret_access_key),
    session_token = p.session_token and R.secret("metrics cloudwatch session_token", p.session_token),
    now_ms = T.now_ms(),
  }
  headers.Accept = "application/json"
  local shown = type(q) == "string" and q or json.encode(q)
  local r = R.send{ method = "POST", url = url, headers = headers, body = body, timeout = p.timeout,
                    fields = { provider = "cloudwatch", query = shown } }
  local doc = R.decode(r)
  if r.status < 200 or r.status > 299 then
    local why = r.body
    if doc then
      local t = tostring(doc.__type or doc.code or "error"):gsub("^.*#", "")
      why = t .. ": " .. tostring(doc.message or doc.Message or "")
    end
    R.fail("EHTTP", r, "CloudWatch", why, { provider = "cloudwatch", query = shown })
  end
  if doc == nil or type(doc.MetricDataResults) ~= "table" then
    error(errors.new("EBADJSON", "metrics: CloudWatch answered something that is not a "
      .. "GetMetricData result: " .. r.body:sub(1, 200), { status = r.status, url = r.shown }), 0)
  end
  return doc.MetricDataResults
end

local function str(v) return string.format("%.17g", v) end

-- The points of one result, oldest first.
local function points(res)
  local pts = {}
  local ts, vs = res.Timestamps or {}, res.Values or {}
  for i = 1, math.min(#ts, #vs) do
    if type(ts[i]) == "number" and type(vs[i]) == "number" then pts[#pts + 1] = { ts[i], str(vs[i]) } end
  end
  table.sort(pts, function(a, b) return a[1] < b[1] end)
  return pts
end

local function labels_of(res) return { id = tostring(res.Id), label = res.Label and tostring(res.Label) or nil } end

-- instant: the newest value of each result over [at - interval, at];
-- range: every point of each result (its period is the query's, not step).
M.instant, M.range = R.series(fetch, points, labels_of)

return M
