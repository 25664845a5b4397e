-- The simulated cluster's traffic through its route objects: which
-- request rate each ready pod gets when HTTPRoutes, VirtualServices,
-- TrafficSplits or Ingresses (sim/routes.lua) send requests to the
-- Services that select it, and the history of those rates, which the
-- metrics (sim/metrics.lua) integrate so counters stay monotonic when a
-- weight changes.
--
-- A route carries the requests its pods would serve without it: the sum
-- of the requests_per_second of the distinct ready pods behind its
-- backends. Its rules share them equally; a rule splits its share by the
-- backends' weights; a backend's share is spread evenly over the ready
-- pods its Service selects (none ready: those requests are lost). A pod
-- behind no route keeps its own rate. So at a 5% canary weight, 5% of the
-- route's requests land on the canary pods, whatever the replica counts.
--
-- The history is store.extra.traffic = { [pod uid] = { {t_ms, rps}, ... } }
-- (rps -1: the pod's own rate), written when a pod, Service or route
-- changes and kept with the sim's state. Each pod keeps its last
-- MAX_SEGMENTS changes.

local U = require("summit.sim.util")
local ROUTES = require("summit.sim.routes")

local M = {}

M.MAX_SEGMENTS = 2000
local OWN = -1

local RELEVANT = { pods = true, services = true }
for _, k in ipairs(ROUTES.KINDS) do RELEVANT[k] = true end

local function is_ready(pod)
  if U.dig(pod, { "metadata", "deletionTimestamp" }) then return false end
  for _, c in ipairs(U.dig(pod, { "status", "conditions" }) or {}) do
    if c.type == "Ready" then return c.status == "True" end
  end
  return false
end

-- The ready pods a Service selects (a Service without a selector selects
-- none, as its Endpoints are then managed by hand).
local function service_pods(store, ns, name, cache)
  local key = tostring(ns) .. "/" .. tostring(name)
  if cache[key] then return cache[key] end
  local out = {}
  local svc = store:get("services", ns, name)
  local sel = svc and U.dig(svc, { "spec", "selector" })
  if type(sel) == "table" and next(sel) ~= nil then
    for _, pod in ipairs(store:list("pods", ns)) do
      local labels = U.dig(pod, { "metadata", "labels" }) or {}
      local match = true
      for k, v in pairs(sel) do
        if labels[k] ~= v then match = false; break end
      end
      if match and is_ready(pod) then out[#out + 1] = pod end
    end
  end
  cache[key] = out
  return out
end

-- Adds the rates one route (a list of rules) gives its pods to `rates`.
local function route_rates(store, rules, own_rps, rates, cache)
  local demand, seen, used = 0, {}, {}
  for _, list in ipairs(rules) do
    local any = false
    for _, b in ipairs(list) do
      local pods = service_pods(store, b.ns, b.service, cache)
      b.pods = pods
      any = any or #pods > 0
      for _, pod in ipairs(pods) do
        local uid = pod.metadata.uid
        if not seen[uid] then seen[uid] = true; demand = demand + own_rps(pod) end
      end
    end
    if any then used[#used + 1] = list end
  end
  for _, list in ipairs(used) do
    local share, wsum = demand / #used, 0
    for _, b in ipairs(list) do wsum = wsum + math.max(tonumber(b.weight) or 0, 0) end
    for _, b in ipairs(list) do
      local w = math.max(tonumber(b.weight) or 0, 0)
      if wsum > 0 and w > 0 and #b.pods > 0 then
        local each = share * w / wsum / #b.pods
        for _, pod in ipairs(b.pods) do
          local uid = pod.metadata.uid
          rates[uid] = (rates[uid] or 0) + each
        end
      end
    end
    -- Pods behind a route that sends them nothing are routed too (rate 0).
    for _, b in ipairs(list) do
      for _, pod in ipairs(b.pods) do rates[pod.metadata.uid] = rates[pod.metadata.uid] or 0 end
    end
  end
end

-- rates(store, own_rps) -> { [pod uid] = requests per second } for the
-- pods behind a route now; own_rps(pod) is a pod's rate without routes.
function M.rates(store, own_rps)
  local rates, cache = {}, {}
  for _, res in ipairs({ "httproutes", "virtualservices", "trafficsplits" }) do
    for _, obj in ipairs(store:list(res)) do
      route_rates(store, ROUTES.rules(res, obj), own_rps, rates, cache)
    end
  end
  local by_ns = {}
  for _, ing in ipairs(store:list("ingresses")) do
    local ns = ing.metadata.namespace
    by_ns[ns] = by_ns[ns] or {}
    table.insert(by_ns[ns], ing)
  end
  for _, ns in ipairs(U.keys(by_ns)) do
    for _, rules in ipairs(ROUTES.ingress_routes(by_ns[ns])) do
      route_rates(store, rules, own_rps, rates, cache)
    end
  end
  return rates
end

local function same(a, b)
  return math.abs(a - b) <= 1e-9 * math.max(1, math.abs(a), math.abs(b))
end

-- Records the rates now in the history: a segment for each pod whose
-- rate changed.
function M.update(store, own_rps, now)
  local hist = store.extra.traffic
  local rates = M.rates(store, own_rps)
  if not hist and next(rates) == nil then return end
  hist = hist or {}
  store.extra.traffic = hist
  now = now or U.now_ms()
  local live = {}
  for _, pod in ipairs(store:list("pods")) do live[pod.metadata.uid] = true end
  for uid in pairs(hist) do
    if not live[uid] then hist[uid] = nil end
  end
  for uid in pairs(live) do
    local r = rates[uid] or OWN
    local segs = hist[uid]
    if not segs then
      if r ~= OWN then hist[uid] = { { 0, OWN }, { now, r } } end
    elseif not same(segs[#segs][2], r) then
      if segs[#segs][1] >= now then segs[#segs][2] = r else segs[#segs + 1] = { now, r } end
      while #segs > M.MAX_SEGMENTS do table.remove(segs, 1) end
    end
  end
end

-- attach(sim, own_rps): keeps the history as the cluster changes.
function M.attach(sim, own_rps)
  local store = sim.store
  store.on_change[#store.on_change + 1] = function(_, res)
    if RELEVANT[res] then M.update(store, own_rps) end
  end
end

-- segments(sim, uid) -> the pod's rate history, nil when it never had a
-- route (its own rate throughout).
function M.segments(sim, uid)
  local hist = sim.store.extra.traffic
  return hist and hist[uid]
end

M.OWN = OWN

return M
