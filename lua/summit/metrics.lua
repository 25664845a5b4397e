-- The metrics primitive: PromQL over Prometheus's HTTP API (docs/metrics.md),
-- on summit's HTTP layer (summit.c.http, the binding `http` uses), and the
-- other providers a query may select (`web`, `datadog`, `cloudwatch`:
-- lua/summit/metrics/*.lua), whose answers are kept in the same form.
-- Every query is one journal entry of kind "metrics", so a resumed
-- analysis replays the values it already saw instead of asking again.
--
-- What the journal holds is Prometheus's answer with its sample values
-- as the strings Prometheus wrote ("0.03", "NaN", "+Inf", "-Inf"): that
-- is JSON, and it turns back into the same Lua numbers (0/0, math.huge,
-- -math.huge) on a first run and on a replay alike.
local E = require("summit.engine")
local T = require("summit.c.task")
local util = require("summit.util")
local argcheck = require("summit.args")
local json = require("summit.json")
local errors = require("summit.errors")
local redact = require("summit.redact")
local config = require("summit.config")

local M = {}

local DEFAULT_TIMEOUT = "10s"

-- Misuse raises at once, as a string naming the function, the argument
-- and the runbook line.
local argerr = argcheck.raiser("metrics.", E.site)

-- ---------------------------------------------------------------------
-- Values

-- number(s) -> the Lua number of a Prometheus sample value. Go's
-- strconv.ParseFloat spellings: "NaN", "+Inf", "-Inf", "Inf" (any case).
function M.number(s)
  if type(s) == "number" then return s end
  if type(s) ~= "string" then return nil end
  local l = s:lower()
  if l == "nan" or l == "+nan" or l == "-nan" then return 0 / 0 end
  if l == "+inf" or l == "inf" or l == "+infinity" or l == "infinity" then return math.huge end
  if l == "-inf" or l == "-infinity" then return -math.huge end
  return tonumber(s)
end

local function labels_of(metric)
  local t = {}
  if type(metric) == "table" then
    for k, v in pairs(metric) do t[k] = tostring(v) end
  end
  return t
end

-- ---------------------------------------------------------------------
-- Templates

-- escape(v) -> v for the inside of a PromQL double-quoted string (a label
-- matcher's value): backslash, double quote and newline are escaped.
function M.escape(v)
  return (tostring(v):gsub('[\\"\n]', { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end

-- expand(text, vars, what [, esc]) -> text with every {{name}} replaced by
-- esc(vars[name]) (default: escaped for PromQL). A name vars lacks raises
-- ETEMPLATE naming it.
local function expand(text, vars, what, esc)
  vars = vars or {}
  esc = esc or M.escape
  return (text:gsub("{{%s*([^{}]-)%s*}}", function(name)
    if not name:match("^[%a_][%w_]*$") then
      error(errors.new("ETEMPLATE", string.format("%s: '{{%s}}' is not a variable "
        .. "(names are letters, digits and _)", what, name), { variable = name }), 0)
    end
    local v = vars[name]
    if v == nil then
      error(errors.new("ETEMPLATE", string.format("%s uses {{%s}}, but no value was given for '%s'",
        what, name, name), { variable = name }), 0)
    end
    if type(v) ~= "string" and type(v) ~= "number" and type(v) ~= "boolean" then
      error(errors.new("ETEMPLATE", string.format("%s: the value of '%s' must be a string "
        .. "or a number, not a %s", what, name, type(v)), { variable = name }), 0)
    end
    if type(v) == "number" and v == math.floor(v) and math.abs(v) < 2 ^ 53 then
      v = string.format("%d", v)
    end
    return esc(v)
  end))
end

-- ---------------------------------------------------------------------
-- Settings: summit.lua's `metrics`, the selected environment's `metrics`
-- over it, and a client's own spec over both.

local function merged(spec)
  local s = { queries = {}, headers = {}, providers = {} }
  local function over(t)
    if type(t) ~= "table" then return end
    for k, v in pairs(t) do
      if k == "queries" or k == "headers" or k == "providers" then
        for qk, qv in pairs(v) do s[k][qk] = qv end
      else
        s[k] = v
      end
    end
  end
  over(config.current and config.current.metrics)
  over(config.env and config.env.metrics)
  over(spec)
  return s
end

-- The Prometheus URL (without a trailing /) for settings s. Runs inside
-- an entry: a simulated cluster is started only when a query is made.
local function base_url(s)
  if type(s.url) == "string" and s.url ~= "" then return (s.url:gsub("/+$", "")) end
  local where = s.cluster
  if where == nil then
    local env_cluster = config.env and config.env.cluster
    local spec = env_cluster and config.current and config.current.clusters
      and config.current.clusters[env_cluster]
    if type(spec) == "table" and spec.sim then where = env_cluster end
  end
  if where == nil then
    error(errors.new("ENOMETRICS", "metrics: no Prometheus configured: set metrics.url in "
      .. "summit.lua (or metrics.cluster to a simulated cluster)"), 0)
  end
  local k = where
  if type(where) == "string" then
    local spec = config.current and config.current.clusters and config.current.clusters[where]
    if type(spec) ~= "table" then
      error(errors.new("ENOMETRICS", string.format("metrics.cluster names '%s', which is not "
        .. "in clusters of summit.lua", where)), 0)
    end
    if not spec.sim then
      error(errors.new("ENOMETRICS", string.format("metrics.cluster names '%s', which is not a "
        .. "simulated cluster (sim = true); set metrics.url to its Prometheus", where)), 0)
    end
    k = require("summit.cluster").client(where)
  end
  if type(k) ~= "table" or type(k.conn) ~= "function" or type(k.spec) ~= "table" or not k.spec.sim then
    error(errors.new("ENOMETRICS", "metrics: cluster must name a simulated cluster "
      .. "(or be one: cluster{ sim = true })"), 0)
  end
  return (k:conn().server:gsub("/+$", ""))
end

local function form(params)
  local parts = {}
  for _, kv in ipairs(params) do
    parts[#parts + 1] = kv[1] .. "=" .. util.urlencode(kv[2])
  end
  return table.concat(parts, "&")
end

local function fmt_num(x)
  if x == math.floor(x) and math.abs(x) < 2 ^ 53 then return string.format("%d", x) end
  return string.format("%.17g", x)
end

-- ---------------------------------------------------------------------
-- The request: one POST of an application/x-www-form-urlencoded body
-- (Prometheus accepts GET and POST; POST has no URL length limit).

local ERROR_RETRYABLE = { bad_data = false, execution = false, not_found = false }

local OUT = require("summit.c.out")
local R = require("summit.metrics.request")

local function call(s, path, params, promql)
  local url = base_url(s) .. path
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded",
                    Accept = "application/json" }
  local secrets = {}
  for k, v in pairs(s.headers or {}) do
    headers[tostring(k)] = tostring(v)
    if redact.is_secret_header(tostring(k)) then secrets[#secrets + 1] = tostring(v) end
  end
  for cred in url:gmatch("^%a[%w+.-]*://([^/@]+)@") do secrets[#secrets + 1] = cred end
  local timeout = s.timeout or DEFAULT_TIMEOUT
  params[#params + 1] = { "timeout", fmt_num(T.duration_ms(timeout) / 1000) }
  local r = R.send{ method = "POST", url = url, headers = headers, body = form(params),
                    timeout = timeout, secrets = secrets, fields = { query = promql } }
  local shown = r.shown
  local ok, doc = pcall(json.decode, r.body)
  if ok and type(doc) == "table" and doc.status == "error" then
    local etype = tostring(doc.errorType or "unknown")
    local e = errors.new("EPROMQL", string.format("%s: %s", etype, tostring(doc.error)),
      { error_type = etype, status = r.status, query = promql, url = shown })
    if ERROR_RETRYABLE[etype] == false then e.retryable = false end
    error(e, 0)
  end
  if r.status < 200 or r.status > 299 then
    error(errors.new("EHTTP", string.format("metrics: POST %s answered %d: %s", shown, r.status,
      redact.text(r.body:sub(1, 300), secrets)),
      { status = r.status, url = shown, query = promql }), 0)
  end
  if not ok or type(doc) ~= "table" or doc.status ~= "success" or type(doc.data) ~= "table" then
    error(errors.new("EBADJSON", string.format("metrics: POST %s answered %d with something that "
      .. "is not a Prometheus API answer: %s", shown, r.status, r.body:sub(1, 200)),
      { status = r.status, url = shown, query = promql }), 0)
  end
  -- Warnings (a query that may be wrong) go to the log, once: a replay
  -- does not run this.
  if type(doc.warnings) == "table" then
    for _, w in ipairs(doc.warnings) do
      OUT.log("warn", string.format("Prometheus warns about %s: %s", promql, tostring(w)))
    end
  end
  return doc
end

-- What the journal keeps of a successful answer: JSON only, values as
-- Prometheus's strings.
local function stored_result(doc)
  local d = doc.data
  local out = { type = d.resultType }
  local res = d.result
  if d.resultType == "vector" then
    out.result = {}
    for i, s in ipairs(res or {}) do
      out.result[i] = { labels = labels_of(s.metric), t = s.value[1], v = tostring(s.value[2]) }
    end
  elseif d.resultType == "matrix" then
    out.result = {}
    for i, s in ipairs(res or {}) do
      local vals = {}
      for j, p in ipairs(s.values or {}) do vals[j] = { p[1], tostring(p[2]) } end
      out.result[i] = { labels = labels_of(s.metric), values = vals }
    end
  elseif d.resultType == "scalar" or d.resultType == "string" then
    out.t, out.v = res[1], tostring(res[2])
  else
    error(errors.new("EBADJSON", "metrics: unknown resultType '" .. tostring(d.resultType) .. "'"), 0)
  end
  return out
end

-- ---------------------------------------------------------------------
-- Argument checks

local function check_opts(fname, opts)
  if opts ~= nil and type(opts) ~= "table" then argerr(fname, "opts", "a table expected") end
  return opts or {}
end

-- A time: unix seconds (number) or an RFC 3339 string, sent as given.
local function time_arg(fname, name, v)
  if v == nil then return nil end
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then argerr(fname, name, "a finite number") end
    return v
  end
  if type(v) == "string" and v:match("^%d%d%d%d%-%d%d%-%d%dT") then return v end
  argerr(fname, name, "unix seconds (a number) or an RFC 3339 time string expected")
end

local function seconds_arg(fname, name, v)
  local ms = argcheck.ms(v)
  if not ms or ms <= 0 then
    argerr(fname, name, "a positive duration (seconds, or \"15s\", \"1m\"...) expected")
  end
  return ms / 1000
end

local function now_s() return T.now_ms() / 1000 end

-- ---------------------------------------------------------------------
-- Results as runbooks see them

local function vector_of(st)
  -- A plain list (no other keys), so a step can return it and get the
  -- same list back from the journal.
  local out = {}
  if st.type == "vector" then
    for i, s in ipairs(st.result or {}) do
      out[i] = { labels = s.labels or {}, value = M.number(s.v), time = s.t }
    end
  elseif st.type == "scalar" then
    out[1] = { labels = {}, value = M.number(st.v), time = st.t }
  elseif st.type == "string" then
    out[1] = { labels = {}, value = st.v, time = st.t }
  end
  return out
end

local function value_of(st, what)
  if st.type == "scalar" then return M.number(st.v) end
  if st.type == "string" then
    local n = M.number(st.v)
    if n == nil then
      error(errors.new("EMETRICS", string.format("%s returned the string %q, not a number",
        what, st.v), { retryable = false }), 0)
    end
    return n
  end
  local res = st.result or {}
  if #res == 0 then return nil end
  if #res > 1 then
    local shown = {}
    for i = 1, math.min(#res, 3) do
      local ls = {}
      for k, v in pairs(res[i].labels or {}) do ls[#ls + 1] = k .. "=" .. string.format("%q", v) end
      table.sort(ls)
      shown[i] = "{" .. table.concat(ls, ",") .. "}"
    end
    error(errors.new("EMETRICS", string.format("%s returned %d series (%s%s), not one: "
      .. "aggregate it (sum(...), max(...)) or use metrics.query", what, #res,
      table.concat(shown, ", "), #res > 3 and ", ..." or ""), { series = #res, retryable = false }), 0)
  end
  return M.number(res[1].v)
end

-- ---------------------------------------------------------------------
-- Providers: which system a query asks. "prometheus" is summit.lua's
-- metrics (url, headers, cluster); any other name is one of
-- metrics.providers, whose `type` names its module.

local PROVIDERS = require("summit.metrics.providers")

-- provider(s, name) -> name, settings, module (nil for Prometheus).
local function provider(s, name)
  name = name or s.provider or "prometheus"
  if name == "prometheus" and s.providers.prometheus == nil then return name, s, nil end
  local p = s.providers[name]
  if type(p) ~= "table" then
    error(errors.new("ENOMETRICS", string.format("metrics: no provider '%s' in metrics.providers "
      .. "of summit.lua (known: prometheus%s)", tostring(name),
      next(s.providers) and (", " .. argcheck.known(s.providers)) or "")), 0)
  end
  if p.type == "prometheus" then
    local ps = { headers = p.headers or {}, url = p.url, cluster = p.cluster, timeout = p.timeout }
    return name, ps, nil
  end
  local mod = PROVIDERS.MODULES[p.type]
  if not mod then
    error(errors.new("ENOMETRICS", string.format("metrics.providers.%s: unknown type '%s' "
      .. "(known: %s)", name, tostring(p.type), argcheck.known(PROVIDERS.MODULES))), 0)
  end
  return name, p, require(mod)
end

-- The provider a call selects, checked at the call: opts.provider, else
-- the client's, else summit.lua's default.
local function selected(self, fname, q, pname)
  local s = merged(self.spec)
  local name, _, mod = provider(s, pname)
  if mod then
    local why = mod.check_query(q)
    if why then argerr(fname, "query", why .. " (provider " .. name .. ")") end
  elseif type(q) ~= "string" or not q:find("%S") then
    argerr(fname, "promql", "a non-empty PromQL string expected")
  end
  return name, mod
end

-- ---------------------------------------------------------------------
-- Clients

local Client = {}
-- The methods are not the metatable (see summit.cluster).
local ClientMT = { __index = Client }

-- The journal identity of a query: what it was before providers for a
-- Prometheus one (so a run started by an older summit replays), with
-- the provider's name otherwise.
local function ident_of(kind, pname, q, ...)
  if pname == "prometheus" then return json.encode({ kind, q, ... }) end
  return json.encode({ kind, pname, q, ... })
end

-- An instant query as one journal entry; returns what the journal holds.
local function instant(self, fname, name, q, o, pname)
  local t = time_arg(fname, "time", o.time)
  local prov = selected(self, fname, q, pname)
  local ident = ident_of("query", prov, q, t or json.null)
  local shown = json.encode({ query = q, time = t, provider = prov ~= "prometheus" and prov or nil })
  return E.entry("metrics", name, ident, {
    effect = true, durable = false, stored = function() return shown end,
  }, function()
    local _, s, mod = provider(merged(self.spec), prov)
    local at = t or now_s()
    local st
    if mod then
      if type(at) ~= "number" then
        error(errors.new("EMETRICS", "metrics: provider " .. prov .. " needs time as unix seconds"), 0)
      end
      st = mod.instant(s, q, at)
    else
      local doc = call(s, "/api/v1/query", { { "query", q },
        { "time", type(at) == "number" and fmt_num(at) or at } }, q)
      st = stored_result(doc)
    end
    st.time = at
    return st
  end)
end

local function provider_opt(fname, o)
  if o.provider ~= nil and (type(o.provider) ~= "string" or o.provider == "") then
    argerr(fname, "provider", "a provider name (a key of metrics.providers, or \"prometheus\") expected")
  end
  return o.provider
end

-- query(q [, {time =, provider =}]) -> { {labels =, value =, time =}, ... }
function Client:query(q, opts)
  local o = check_opts("query", opts)
  return vector_of(instant(self, "query", "query", q, o, provider_opt("query", o)))
end

-- value(q [, {time =, provider =}]) -> number, or nil when there is no data.
function Client:value(q, opts)
  local o = check_opts("value", opts)
  local st = instant(self, "value", "value", q, o, provider_opt("value", o))
  return value_of(st, "the query " .. (type(q) == "string" and q or json.encode(q)))
end

-- range(q, {start =, stop =, step =, provider =}) -> { {labels =, values =
--   { {t, v}, ... }}, ... }
function Client:range(q, opts)
  local o = check_opts("range", opts)
  local pname = provider_opt("range", o)
  local start = time_arg("range", "start", o.start)
  local stop = time_arg("range", "stop", o.stop)
  local since = o.since ~= nil and seconds_arg("range", "since", o.since) or nil
  if start == nil and since == nil then argerr("range", "start", "a start time (or since =) is required") end
  if start ~= nil and since ~= nil then argerr("range", "since", "give start or since, not both") end
  local step = o.step ~= nil and seconds_arg("range", "step", o.step) or nil
  if type(start) == "number" and type(stop) == "number" and stop < start then
    argerr("range", "stop", "must not be before start")
  end
  local prov = selected(self, "range", q, pname)
  local ident = ident_of("range", prov, q, start or json.null, stop or json.null,
                         since or json.null, step or json.null)
  local shown = json.encode({ query = q, start = start, stop = stop, since = since, step = step,
                              provider = prov ~= "prometheus" and prov or nil })
  local st = E.entry("metrics", "range", ident, {
    effect = true, durable = false, stored = function() return shown end,
  }, function()
    local _, s, mod = provider(merged(self.spec), prov)
    local to = stop or now_s()
    local from = start or (type(to) == "number" and to - since)
    if type(from) ~= "number" and since then
      error(errors.new("EMETRICS", "metrics.range: since needs stop as unix seconds"), 0)
    end
    local st_step = step
    if not st_step then
      if type(from) == "number" and type(to) == "number" then
        st_step = math.max(1, math.floor((to - from) / 100 + 0.5))
      else
        st_step = 60
      end
    end
    local r
    if mod then
      if type(from) ~= "number" or type(to) ~= "number" then
        error(errors.new("EMETRICS", "metrics.range: provider " .. prov .. " needs start and stop "
          .. "as unix seconds"), 0)
      end
      r = mod.range(s, q, from, to, st_step)
    else
      local function enc(x) return type(x) == "number" and fmt_num(x) or x end
      local doc = call(s, "/api/v1/query_range", { { "query", q }, { "start", enc(from) },
        { "end", enc(to) }, { "step", fmt_num(st_step) } }, q)
      r = stored_result(doc)
    end
    if r.type ~= "matrix" then
      error(errors.new("EMETRICS", string.format("metrics.range: Prometheus answered a %s, "
        .. "not a matrix", tostring(r.type))), 0)
    end
    r.start, r.stop, r.step = from, to, st_step
    return r
  end)
  local out = {}
  for i, s in ipairs(st.result or {}) do
    local vals = {}
    for j, p in ipairs(s.values or {}) do vals[j] = { p[1], M.number(p[2]) } end
    out[i] = { labels = s.labels or {}, values = vals }
  end
  return out
end

-- template(s, name) -> the query text (or table) of a named template and
-- the provider it selects (nil: the client's default).
local function template(s, name)
  local tpl = s.queries[name]
  if type(tpl) == "string" then return tpl, nil end
  if type(tpl) == "table" and tpl.query ~= nil then return tpl.query, tpl.provider end
  error(errors.new("ETEMPLATE", string.format("no query template '%s' in metrics.queries "
    .. "(known: %s)", name, argcheck.known(s.queries)),
    { template = name }), 0)
end

-- render(name, vars) -> the query of the named template with vars
-- substituted (escaped as its provider needs: for label matchers in
-- PromQL), and the provider's name. Not journaled.
function Client:render(name, vars)
  if type(name) ~= "string" or name == "" then argerr("render", "name", "a template name expected") end
  if vars ~= nil and type(vars) ~= "table" then argerr("render", "vars", "a table expected") end
  local s = merged(self.spec)
  local text, pname = template(s, name)
  local what = "query template '" .. name .. "'"
  local pn, _, mod = provider(s, pname)
  local ok, res = pcall(function()
    if mod then
      return mod.expand(text, vars, function(t, v, esc) return expand(t, v, what, esc) end)
    end
    return expand(text, vars, what)
  end)
  if not ok then
    if type(res) == "table" then res.template = name end
    error(res, 0)
  end
  return res, pn
end

-- get(name, vars [, {time =}]) -> number or nil: value() of a template.
-- The journal entry is named after the template.
function Client:get(name, vars, opts)
  local q, pname = self:render(name, vars)
  local o = check_opts("get", opts)
  local st = instant(self, "get", name, q, o, pname)
  return value_of(st, "the query template '" .. name .. "' ("
    .. (type(q) == "string" and q or json.encode(q)) .. ")")
end

local function client_spec(spec)
  if spec == nil then return nil end
  if type(spec) ~= "table" then argerr("client", "spec", "a table expected") end
  local known = { url = "string", headers = "table", timeout = true, queries = "table",
                  cluster = true, provider = "string", providers = "table" }
  for k, v in pairs(spec) do
    local want = known[k]
    if not want then argerr("client", tostring(k), "unknown option (known: " .. argcheck.known(known) .. ")") end
    if want ~= true and type(v) ~= want then argerr("client", k, "a " .. want .. " expected") end
  end
  if spec.timeout ~= nil then seconds_arg("client", "timeout", spec.timeout) end
  if spec.cluster ~= nil and type(spec.cluster) ~= "string" and type(spec.cluster) ~= "table" then
    argerr("client", "cluster", "a cluster name or a cluster() value expected")
  end
  if spec.providers ~= nil then
    local probs = PROVIDERS.check("providers", spec.providers)
    if probs[1] then argerr("client", "providers", probs[1]) end
  end
  return spec
end

-- client{ url =, headers =, timeout =, queries =, cluster =, provider =,
-- providers = } -> a client with :query, :value, :range, :get and
-- :render; what it leaves out comes from summit.lua.
function M.client(spec)
  return setmetatable({ spec = client_spec(spec) }, ClientMT)
end

local default = setmetatable({}, ClientMT)

function M.query(q, opts) return Client.query(default, q, opts) end
function M.value(q, opts) return Client.value(default, q, opts) end
function M.range(q, opts) return Client.range(default, q, opts) end
function M.get(name, vars, opts) return Client.get(default, name, vars, opts) end
function M.render(name, vars) return Client.render(default, name, vars) end

-- expand(text, vars) -> a PromQL text with {{name}} placeholders filled
-- in, escaped as in templates. Not journaled.
function M.expand(text, vars)
  if type(text) ~= "string" then argerr("expand", "text", "a string expected") end
  if vars ~= nil and type(vars) ~= "table" then argerr("expand", "vars", "a table expected") end
  return expand(text, vars, "the query")
end

return M
