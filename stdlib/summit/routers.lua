-- summit.routers: the traffic routers summit.rollout's canary drives
-- (docs/stdlib/rollout.md "Traffic routers"): the weights of a Gateway API
-- HTTPRoute, an Istio VirtualService or an SMI TrafficSplit, or a canary
-- Ingress for ingress-nginx, between a stable and a canary Service that
-- each select only their own Deployment's pods, by pod-template hash, the
-- way Argo Rollouts manages its stableService and canaryService.
--
--   route = { gateway = "httproute/web" }         -- backendRefs[].weight
--   route = { istio = "virtualservice/web" }      -- http[].route[].weight
--   route = { nginx = "ingress/web" }             -- ingress/web-canary, canary-weight
--   route = { smi = "trafficsplit/web" }          -- backends[].weight
--   (each also: stable = "web-stable", canary = "web-canary", port = 80)
--
-- Every function takes summit.rollout's call context c (c.k the client,
-- c.nso the namespace option, c.name the stable Deployment, c.canary the
-- canary Deployment) and the parsed route rt; each cluster request is a
-- journal entry of the step that calls it. Every weight set is recorded
-- in the audit (rollout.route) with the weights.
local api = require("summit.api")
local errors = require("summit.errors")
local json = require("summit.json")
local util = require("summit.util")

local M = {}

M.NGINX = "nginx.ingress.kubernetes.io/"
M.HASH = "pod-template-hash"
-- On the Services summit creates: which rollout manages them.
M.MANAGED = "summit.dev/rollout"

-- router -> the kind its reference names (and the kubectl spellings of it)
local ROUTERS = {
  gateway = { kind = "httproute", spell = { httproute = true, httproutes = true,
              ["httproute.gateway.networking.k8s.io"] = true } },
  istio = { kind = "virtualservice", spell = { virtualservice = true, virtualservices = true, vs = true,
            ["virtualservice.networking.istio.io"] = true } },
  nginx = { kind = "ingress", spell = { ingress = true, ingresses = true, ing = true,
            ["ingress.networking.k8s.io"] = true } },
  smi = { kind = "trafficsplit", spell = { trafficsplit = true, trafficsplits = true, ts = true,
          ["trafficsplit.split.smi-spec.io"] = true } },
}
M.NAMES = { "gateway", "istio", "nginx", "smi" }

local KEYS = { gateway = true, istio = true, nginx = true, smi = true, stable = true, canary = true,
               port = true }

-- parse(r, name, bad) -> the route, or nil when r is not a router form.
-- bad(arg, message) raises a misuse.
function M.parse(r, name, bad)
  if type(r) ~= "table" then return nil end
  local which
  for _, k in ipairs(M.NAMES) do
    if r[k] ~= nil then
      if which then bad("route", "one router expected, got both '" .. which .. "' and '" .. k .. "'") end
      which = k
    end
  end
  if not which then return nil end
  for k in pairs(r) do
    if not KEYS[k] then
      bad("route." .. tostring(k), "unknown key (a router route knows gateway, istio, nginx, smi, "
        .. "stable, canary and port)")
    end
  end
  local info, v = ROUTERS[which], r[which]
  if type(v) ~= "string" or v == "" then
    bad("route." .. which, "a " .. info.kind .. " expected, e.g. \"" .. info.kind .. "/" .. name .. "\"")
  end
  local k, n = v:match("^([%w%.]+)/(.+)$")
  if k and not info.spell[k:lower()] then
    bad("route." .. which, "a " .. info.kind .. " expected, e.g. \"" .. info.kind .. "/" .. name
      .. "\", got " .. v)
  end
  n = n or v
  local rt = { router = which, kind = info.kind, name = n, ref = info.kind .. "/" .. n,
               stable = r.stable or (name .. "-stable"), canary = r.canary or (name .. "-canary"),
               port = r.port }
  for _, a in ipairs({ "stable", "canary" }) do
    if type(rt[a]) ~= "string" or not rt[a]:match("^[a-z0-9][-a-z0-9]*$") then
      bad("route." .. a, "a Service name expected")
    end
  end
  if rt.stable == rt.canary then bad("route.canary", "the canary Service must differ from the stable one") end
  if rt.port ~= nil and (type(rt.port) ~= "number" or rt.port < 1 or rt.port > 65535 or rt.port % 1 ~= 0) then
    bad("route.port", "a port number expected")
  end
  if which == "nginx" then rt.canary_ingress = n .. "-canary" end
  return rt
end

-- ---- cluster helpers ----

local function missing(err)
  return type(err) == "table" and (err.reason == "NotFound" or err.code == "ENOTFOUND")
end

local function get_or_nil(c, ref)
  local ok, obj = pcall(c.k.get, c.k, ref, c.nso)
  if ok then return obj end
  if missing(obj) then return nil end
  error(obj, 0)
end

local function fail(code, c, fmt, ...)
  error(errors.new(code, string.format("rollout.%s: " .. fmt, c.fname, ...)), 0)
end

local function must_get(c, ref)
  local obj = get_or_nil(c, ref)
  if not obj then
    fail("ENOTFOUND", c, "%s not found%s", ref, c.namespace and (" in namespace " .. c.namespace) or "")
  end
  return obj
end

-- A mesh host names a Service by its name or an FQDN that starts with it.
local function host_is(host, svc)
  return host == svc or (type(host) == "string" and host:sub(1, #svc + 1) == svc .. ".")
end

-- ---- the weighted lists of each router ----
-- Each lists the places a weight lives: { list, stable_i, canary_i, get, set,
-- add } per rule that sends to the stable Service.

local function backends(rt, obj)
  local out = {}
  if rt.router == "gateway" then
    for _, rule in ipairs(obj.spec and obj.spec.rules or {}) do
      local list = rule.backendRefs or {}
      local s, cn
      for i, b in ipairs(list) do
        if (b.kind == nil or b.kind == "Service") and (b.group == nil or b.group == "") then
          if b.name == rt.stable then s = i elseif b.name == rt.canary then cn = i end
        end
      end
      if s then
        out[#out + 1] = { list = list, s = s, c = cn, owner = rule, field = "backendRefs",
          new = function(st) local b = util.copy(st); b.name = rt.canary; return b end }
      end
    end
  elseif rt.router == "istio" then
    for _, h in ipairs(obj.spec and obj.spec.http or {}) do
      local list = h.route or {}
      local s, cn
      for i, d in ipairs(list) do
        local host = d.destination and d.destination.host
        if host_is(host, rt.stable) then s = i elseif host_is(host, rt.canary) then cn = i end
      end
      if s then
        out[#out + 1] = { list = list, s = s, c = cn, owner = h, field = "route",
          new = function(st)
            local d = util.copy(st)
            d.destination.host = rt.canary .. d.destination.host:sub(#rt.stable + 1)
            return d
          end }
      end
    end
  elseif rt.router == "smi" then
    local list = obj.spec and obj.spec.backends or {}
    local s, cn
    for i, b in ipairs(list) do
      if b.service == rt.stable then s = i elseif b.service == rt.canary then cn = i end
    end
    if s then
      out[#out + 1] = { list = list, s = s, c = cn, owner = obj.spec, field = "backends",
        new = function() return { service = rt.canary } end }
    end
  end
  return out
end

-- The canary's share in percent of a weighted list (its first rule).
local function share(rt, places)
  local p = places[1]
  local function w(b)
    if not b then return 0 end
    if b.weight ~= nil then return b.weight end
    -- Unset weights: Gateway API's default 1; Istio's 100 for a lone destination.
    if rt.router == "gateway" then return 1 end
    return #p.list == 1 and 100 or 0
  end
  local sw, cw = w(p.list[p.s]), w(p.c and p.list[p.c])
  if sw + cw == 0 then return 0 end
  return math.floor(100 * cw / (sw + cw) + 0.5)
end

local function no_stable(c, rt)
  local what = ({ gateway = "backendRef", istio = "route destination", smi = "backend",
                  nginx = "path backend" })[rt.router]
  fail("EINVALID", c, "%s sends nothing to service %s (add a %s for it; the canary's is added when missing)",
       rt.ref, rt.stable, what)
end

-- ---- nginx: the canary Ingress ----

local function ingress_backends(obj, fn)
  for _, r in ipairs(obj.spec and obj.spec.rules or {}) do
    for _, p in ipairs(r.http and r.http.paths or {}) do
      local svc = p.backend and p.backend.service
      if svc then fn(svc) end
    end
  end
end

local function canary_ingress(rt, stable, weight)
  local spec = util.copy(stable.spec)
  ingress_backends({ spec = spec }, function(svc) if svc.name == rt.stable then svc.name = rt.canary end end)
  spec.tls = nil   -- ingress-nginx takes TLS from the primary Ingress
  local ann = {}
  for k, v in pairs(stable.metadata.annotations or {}) do
    if k == "kubernetes.io/ingress.class" then ann[k] = v end
  end
  ann[M.NGINX .. "canary"] = "true"
  ann[M.NGINX .. "canary-weight"] = tostring(weight)
  return { apiVersion = "networking.k8s.io/v1", kind = "Ingress",
           metadata = { name = rt.canary_ingress, namespace = stable.metadata.namespace,
                        labels = util.copy(stable.metadata.labels),
                        annotations = ann },
           spec = spec }
end

-- ---- read, set, restore ----

-- read(c, rt) -> { weight, canary_ingress = bool (nginx) }: the canary's
-- share the route gives now. The route object must exist and send to the
-- stable Service.
function M.read(c, rt)
  local obj = must_get(c, rt.ref)
  if rt.router == "nginx" then
    local found = false
    ingress_backends(obj, function(svc) found = found or svc.name == rt.stable end)
    if not found then no_stable(c, rt) end
    local ci = get_or_nil(c, "ingress/" .. rt.canary_ingress)
    local a = ci and ci.metadata.annotations or {}
    return { weight = ci and (tonumber(a[M.NGINX .. "canary-weight"]) or 0) or 0, canary_ingress = ci ~= nil }
  end
  local places = backends(rt, obj)
  if #places == 0 then no_stable(c, rt) end
  return { weight = share(rt, places) }
end

local function audit(c, rt, weight)
  api.audit.record("rollout.route", {
    deployment = c.name, namespace = c.namespace, router = rt.router, route = rt.ref,
    weights = { [rt.stable] = 100 - weight, [rt.canary] = weight },
  })
end

-- set(c, rt, weight): the canary gets `weight` percent, the stable the
-- rest, in every rule that sends to the stable Service.
function M.set(c, rt, weight)
  local obj = must_get(c, rt.ref)
  if rt.router == "nginx" then
    local ci = get_or_nil(c, "ingress/" .. rt.canary_ingress)
    if ci then
      c.k:patch("ingress/" .. rt.canary_ingress, { metadata = { annotations = {
        [M.NGINX .. "canary"] = "true", [M.NGINX .. "canary-weight"] = tostring(weight) } } },
        { type = "merge", namespace = c.namespace })
    else
      c.k:create(canary_ingress(rt, obj, weight), c.nso)
    end
  else
    local places = backends(rt, obj)
    if #places == 0 then no_stable(c, rt) end
    for _, p in ipairs(places) do
      local list = p.list
      if not p.c then
        list[#list + 1] = p.new(list[p.s])
        p.c = #list
      end
      list[p.s].weight, list[p.c].weight = 100 - weight, weight
      p.owner[p.field] = list
    end
    c.k:replace(obj, c.nso)
  end
  audit(c, rt, weight)
end

-- restore(c, rt, saved): the weight read() found; for nginx, the canary
-- Ingress deleted when there was none. A route object gone is skipped.
function M.restore(c, rt, saved)
  if not saved then return end
  if not get_or_nil(c, rt.ref) then return end
  if rt.router == "nginx" and not saved.canary_ingress then
    local ok, err = pcall(c.k.delete, c.k, "ingress/" .. rt.canary_ingress, c.nso)
    if not ok and not missing(err) then error(err, 0) end
    audit(c, rt, 0)
    return
  end
  M.set(c, rt, saved.weight)
end

-- ---- the stable and canary Services ----

-- The pod-template hash of a Deployment's current ReplicaSet (the one of
-- the highest revision; its name is <deployment>-<hash>).
local function current_hash(c, dep)
  local best
  for _, h in ipairs(c.k:rollout_history("deployment/" .. dep, c.nso)) do
    if not best or h.revision > best.revision then best = h end
  end
  if not best then fail("ENOTFOUND", c, "deployment/%s has no ReplicaSet yet", dep) end
  return best.replicaset:sub(#dep + 2)
end

local function selector_of(c, dep)
  local d = must_get(c, "deployment/" .. dep)
  local sel = util.copy(d.spec.selector and d.spec.selector.matchLabels or {})
  sel[M.HASH] = current_hash(c, dep)
  return sel
end

-- services_read(c, rt) -> { stable = selector | false, canary = ... }
-- (false: the Service is not there).
function M.services_read(c, rt)
  local out = {}
  for _, which in ipairs({ "stable", "canary" }) do
    local svc = get_or_nil(c, "service/" .. rt[which])
    out[which] = svc and (svc.spec.selector or {}) or false
  end
  return out
end

-- Ports for a Service summit creates: the Service named like the
-- Deployment, else the container's ports, else 80 (route.port first).
local function ports_for(c, rt)
  if rt.port then return { { name = "http", port = rt.port, targetPort = rt.port } } end
  local svc = get_or_nil(c, "service/" .. c.name)
  if svc and svc.spec.ports then
    local out = {}
    for _, p in ipairs(svc.spec.ports) do
      out[#out + 1] = { name = p.name, port = p.port, targetPort = p.targetPort, protocol = p.protocol }
    end
    return out
  end
  local d = must_get(c, "deployment/" .. c.name)
  local x = d.spec.template.spec.containers[1]
  local p = x and x.ports and x.ports[1]
  local port = p and p.containerPort or 80
  return { { name = "http", port = port, targetPort = port } }
end

local function point(c, rt, which, sel, cur)
  local name = rt[which]
  if cur == false then
    c.k:create({ apiVersion = "v1", kind = "Service",
                 metadata = { name = name, namespace = c.namespace,
                              annotations = { [M.MANAGED] = c.name } },
                 spec = { selector = sel, ports = ports_for(c, rt) } }, c.nso)
    return
  end
  local p = {}
  for k in pairs(cur) do if sel[k] == nil then p[k] = json.null end end
  for k, v in pairs(sel) do p[k] = v end
  c.k:patch("service/" .. name, { spec = { selector = p } }, { type = "merge", namespace = c.namespace })
end

-- services_point(c, rt, canary_there): the stable Service selects the
-- stable Deployment's current pods, the canary Service the canary's (or,
-- with no canary, the stable's too, as Argo leaves it); created when
-- missing. Returns the selectors.
function M.services_point(c, rt, canary_there)
  local now = M.services_read(c, rt)
  local stable = selector_of(c, c.name)
  local canary = canary_there and selector_of(c, c.canary) or stable
  point(c, rt, "stable", stable, now.stable)
  point(c, rt, "canary", canary, now.canary)
  return { stable = stable, canary = canary }
end

-- services_restore(c, rt, saved): the selectors services_read found; a
-- Service that was not there is deleted.
function M.services_restore(c, rt, saved)
  if not saved then return end
  local now = M.services_read(c, rt)
  for _, which in ipairs({ "stable", "canary" }) do
    local was, cur = saved[which], now[which]
    if was == false and cur then
      local ok, err = pcall(c.k.delete, c.k, "service/" .. rt[which], c.nso)
      if not ok and not missing(err) then error(err, 0) end
    elseif was and cur then
      point(c, rt, which, was, cur)
    end
  end
end

return M
