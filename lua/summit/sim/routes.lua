-- The route objects of the simulated cluster (Gateway API HTTPRoutes,
-- Istio VirtualServices, Ingresses with ingress-nginx's canary
-- annotations, SMI TrafficSplits): what the API server checks when one is
-- written, and the weighted backends each one sends requests to, which
-- the traffic generator (sim/traffic.lua) follows.
--
-- Weights follow each project's documented rules:
--   HTTPRoute       rules[].backendRefs[].weight, proportional, default 1
--                   (a rule with one backend gets all of its traffic)
--   VirtualService  http[].route[].weight, percent; a lone destination
--                   gets 100, an unweighted one among several 0
--   Ingress         a canary Ingress (nginx.ingress.kubernetes.io/canary
--                   "true") takes canary-weight of canary-weight-total
--                   (default 100) of the requests of the Ingress with the
--                   same host and path
--   TrafficSplit    backends[].weight, proportional

local U = require("summit.sim.util")

local M = {}

M.NGINX = "nginx.ingress.kubernetes.io/"

-- ---- validation: { field, message } per problem ----

local function whole(v, lo, hi)
  return type(v) == "number" and v == math.floor(v) and v >= lo and v <= hi
end

local function need(errs, field, ok, message)
  if not ok then errs[#errs + 1] = { field = field, message = message } end
end

local function list_of(errs, field, v)
  if v == nil then return {} end
  need(errs, field, type(v) == "table" and (U.is_array(v) or #v > 0 or next(v) == nil),
       "Invalid value: must be a list")
  return type(v) == "table" and v or {}
end

local CHECK = {}

-- Checks the weighted lists of a route: spec[rules][i][list][j], each
-- entry naming its Service at `name` (a path of keys) and weighing at most
-- `max`, with the message its project's validation gives.
local function check_lists(obj, errs, rules, list, name, max, message)
  local spec = type(obj.spec) == "table" and obj.spec or {}
  for i, r in ipairs(list_of(errs, "spec." .. rules, spec[rules])) do
    local at = string.format("spec.%s[%d].%s", rules, i - 1, list)
    for j, b in ipairs(list_of(errs, at, type(r) == "table" and r[list] or nil)) do
      local f = string.format("%s[%d]", at, j - 1)
      local v = type(b) == "table" and U.dig(b, name)
      need(errs, f .. "." .. table.concat(name, "."), type(v) == "string" and v ~= "", "Required value")
      if type(b) == "table" and b.weight ~= nil then
        need(errs, f .. ".weight", whole(b.weight, 0, max),
             "Invalid value: " .. tostring(b.weight) .. ": " .. message)
      end
    end
  end
end

function CHECK.HTTPRoute(obj, errs)
  check_lists(obj, errs, "rules", "backendRefs", { "name" }, 1000000, "should be between 0 and 1000000")
end

function CHECK.VirtualService(obj, errs)
  check_lists(obj, errs, "http", "route", { "destination", "host" }, 100, "weight must be between 0 and 100")
end

function CHECK.TrafficSplit(obj, errs)
  local spec = type(obj.spec) == "table" and obj.spec or {}
  need(errs, "spec.service", type(spec.service) == "string" and spec.service ~= "", "Required value")
  for j, b in ipairs(list_of(errs, "spec.backends", spec.backends)) do
    local f = string.format("spec.backends[%d]", j - 1)
    need(errs, f .. ".service", type(b) == "table" and type(b.service) == "string" and b.service ~= "",
         "Required value")
    need(errs, f .. ".weight", type(b) == "table" and whole(b.weight, 0, 2147483647),
         "Invalid value: must be a whole number >= 0")
  end
end

function CHECK.Ingress(obj, errs)
  local spec = type(obj.spec) == "table" and obj.spec or {}
  for i, r in ipairs(list_of(errs, "spec.rules", spec.rules)) do
    local http = type(r) == "table" and r.http
    for j, p in ipairs(type(http) == "table" and list_of(errs, "spec.rules.http.paths", http.paths) or {}) do
      local f = string.format("spec.rules[%d].http.paths[%d].backend", i - 1, j - 1)
      local svc = type(p) == "table" and type(p.backend) == "table" and p.backend.service
      need(errs, f, type(svc) ~= "table" or (type(svc.name) == "string" and svc.name ~= ""),
           "Required value: service.name")
    end
  end
  local w = U.dig(obj, { "metadata", "annotations", M.NGINX .. "canary-weight" })
  if w ~= nil then
    need(errs, "metadata.annotations[" .. M.NGINX .. "canary-weight]", tonumber(w) ~= nil
      and tonumber(w) >= 0, "Invalid value: a whole number of requests expected")
  end
end

-- check(kind, obj) -> { {field, message}, ... } (empty when fine or not a route kind)
function M.check(kind, obj)
  local errs = {}
  if CHECK[kind] then CHECK[kind](obj, errs) end
  return errs
end

-- ---- backends: rules = { { {ns, service, weight}, ... }, ... } ----

-- A mesh host ("web", "web.prod", "web.prod.svc.cluster.local") -> the
-- Service's namespace and name.
local function host_service(host, ns)
  local name, rest = tostring(host):match("^([^.]+)%.?(.*)$")
  local hns = rest and rest:match("^([^.]+)")
  return hns or ns, name
end

local BACKENDS = {}

-- The rules of a route whose spec[rules][i][list] entries each name a
-- backend: backend(entry, ns, n) -> { ns, service, weight } or nil (n is
-- the number of entries in the list).
local function weighted(obj, rules, list, backend)
  local ns, out = obj.metadata.namespace, {}
  for _, r in ipairs(U.dig(obj, { "spec", rules }) or {}) do
    local entries, got = r[list] or {}, {}
    for _, e in ipairs(entries) do got[#got + 1] = backend(e, ns, #entries) end
    out[#out + 1] = got
  end
  return out
end

function BACKENDS.httproutes(obj)
  local rules = weighted(obj, "rules", "backendRefs", function(b, ns)
    if (b.kind == nil or b.kind == "Service") and (b.group == nil or b.group == "") then
      return { ns = b.namespace or ns, service = b.name, weight = b.weight or 1 }
    end
  end)
  for _, list in ipairs(rules) do
    if #list == 1 and list[1].weight > 0 then list[1].weight = 1 end
  end
  return rules
end

function BACKENDS.virtualservices(obj)
  return weighted(obj, "http", "route", function(d, ns, n)
    local dns, name = host_service(U.dig(d, { "destination", "host" }), ns)
    return { ns = dns, service = name, weight = d.weight or (n == 1 and 100 or 0) }
  end)
end

function BACKENDS.trafficsplits(obj)
  local ns, list = obj.metadata.namespace, {}
  for _, b in ipairs(U.dig(obj, { "spec", "backends" }) or {}) do
    list[#list + 1] = { ns = ns, service = b.service, weight = b.weight or 0 }
  end
  return { list }
end

local function is_canary(ing)
  return U.dig(ing, { "metadata", "annotations", M.NGINX .. "canary" }) == "true"
end

-- Ingress paths -> { ["host path"] = service name }
local function ingress_paths(ing)
  local out = {}
  for _, r in ipairs(U.dig(ing, { "spec", "rules" }) or {}) do
    for _, p in ipairs(U.dig(r, { "http", "paths" }) or {}) do
      local svc = U.dig(p, { "backend", "service", "name" })
      if svc then out[(r.host or "*") .. " " .. (p.path or "/")] = svc end
    end
  end
  return out
end

-- The Ingresses of a namespace as routes: each primary (non-canary)
-- Ingress, its paths weighted against the canary Ingress of the same host
-- and path (ingress-nginx allows one canary per primary).
function M.ingress_routes(ingresses)
  local canaries = {}
  for _, ing in ipairs(ingresses) do
    if is_canary(ing) then
      local a = ing.metadata.annotations
      local total = tonumber(a[M.NGINX .. "canary-weight-total"]) or 100
      local w = math.min(tonumber(a[M.NGINX .. "canary-weight"]) or 0, total)
      for k, svc in pairs(ingress_paths(ing)) do canaries[k] = { service = svc, w = w, total = total } end
    end
  end
  local out = {}
  for _, ing in ipairs(ingresses) do
    if not is_canary(ing) then
      local ns, rules = ing.metadata.namespace, {}
      local paths = ingress_paths(ing)
      for _, k in ipairs(U.keys(paths)) do
        local c = canaries[k]
        local list = { { ns = ns, service = paths[k], weight = c and (c.total - c.w) or 1 } }
        if c then list[2] = { ns = ns, service = c.service, weight = c.w } end
        rules[#rules + 1] = list
      end
      out[#out + 1] = rules
    end
  end
  return out
end

-- The resources whose objects are routes, for sim/traffic.lua.
M.KINDS = { "httproutes", "virtualservices", "trafficsplits", "ingresses" }

-- rules(res, obj) -> the weighted backends of a route object (not Ingresses:
-- they are routes together, see ingress_routes).
function M.rules(res, obj) return BACKENDS[res](obj) end

return M
