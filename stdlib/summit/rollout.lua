-- summit.rollout: deployment strategies on the cluster primitive
-- (docs/stdlib/rollout.md).
--
--   local rollout = require("summit.rollout")
--   rollout.rolling{ name = "web", image = "registry/web:v2" }
--   rollout.blue_green{ name = "web", image = "registry/web:v2" }   -- web-blue / web-green
--   rollout.switch_back{ name = "web" }
--   rollout.canary{ name = "web", image = "registry/web:v2", weight = 5 }
--   rollout.promote{ name = "web" }  /  rollout.abort{ name = "web" }
--   rollout.progressive{ name = "web", image = "registry/web:v2", steps = { 10, 50, 100 },
--                        between = function(weight) ... end }
--   rollout.undo{ name = "web", revision = 3 }
--   local st = rollout.status{ name = "web" }   -- images, replicas, weight, active color
--
-- Every call first records the state it finds as a step whose undo puts
-- that state back (images, replicas, the Service selector, the route
-- weight, the canary Deployment's existence); each mutation after it is a
-- step of its own, so a resumed run replays what was done and continues
-- with the first mutation not done yet, and a run that fails later runs
-- the undo path back to the state before the call.
local api = require("summit.api")
local json = require("summit.json")
local errors = require("summit.errors")
local argcheck = require("summit.args")
local util = require("summit.util")
local routers = require("summit.routers")

local M = {}

-- The annotation on a Service that keeps the selector a blue-green switch
-- replaced (JSON), for switch_back in a later run.
M.PREVIOUS_SELECTOR = "summit.dev/previous-selector"

-- ---- arguments: misuse raises at once, naming the argument ----

-- Misuse is found by bad() in the checks below; parse() raises it at the
-- runbook's line, naming the public function (summit.args).
local bad = argcheck.bad

-- parse(fname, o, base, more) -> c: the checks of a public function,
-- raising a misuse at the runbook's line (level 3 from parse: parse, the
-- function, its caller).
local function parse(fname, o, base, more)
  local c = argcheck.guard("rollout." .. fname, 3, function()
    if type(o) ~= "table" then bad(1, "a table of options expected, got " .. type(o)) end
    local c = base(fname, o)
    if more then more(c, o) end
    -- last: a misuse is reported before a missing cluster
    c.k = argcheck.client("cluster", o.cluster) or api.cluster()
    return c
  end)
  return c
end

local function str(o, arg, required)
  local v = o[arg]
  if v == nil and not required then return nil end
  if type(v) ~= "string" or v == "" then bad(arg, "a non-empty string expected") end
  return v
end

-- "web", "deployment/web" or "deploy/web" -> "web"
local function depname(o, arg)
  arg = arg or "name"
  local v = str(o, arg, true)
  local k, n = v:match("^([%w%.]+)/(.+)$")
  if k then
    if k ~= "deployment" and k ~= "deploy" and k ~= "deployments" and k ~= "deployment.apps" then
      bad(arg, "a Deployment: \"web\" or \"deployment/web\", got " .. v)
    end
    v = n
  end
  if not v:match("^[a-z0-9][-a-z0-9.]*$") or v:match("[-.]$") or #v > 253 then
    bad(arg, "not a valid Kubernetes name: '" .. v .. "'")
  end
  return v
end

local function fn_arg(o, arg)
  local v = o[arg]
  if v ~= nil and type(v) ~= "function" then bad(arg, "a function expected") end
  return v
end

local function timeout_arg(o)
  local v = o.timeout
  if v ~= nil and not argcheck.ms(v) then
    bad("timeout", "a duration like \"10m\" expected, got " .. tostring(v))
  end
  return v or "10m"
end

-- route = { gateway|istio|nginx|smi = REF, stable =, canary =, port = } (a router,
-- summit.routers) | { ref =, annotation = } | { ref =, patch = fn(weight), type = }
-- | fn(weight)
local function route_arg(r, name)
  if r == nil or type(r) == "function" then return r end
  if type(r) ~= "table" then bad("route", "a table or a function expected") end
  local rt = routers.parse(r, name, bad)
  if rt then return rt end
  if type(r.ref) ~= "string" and type(r.ref) ~= "table" then
    bad("route.ref", "the object to patch, e.g. \"service/web\"")
  end
  if r.patch ~= nil and type(r.patch) ~= "function" then
    bad("route.patch", "a function(weight) returning a patch expected")
  end
  if r.patch == nil and (type(r.annotation) ~= "string" or r.annotation == "") then
    bad("route", "an 'annotation' name or a 'patch' function expected")
  end
  if r.type ~= nil and r.type ~= "merge" and r.type ~= "strategic" and r.type ~= "json" then
    bad("route.type", "merge, strategic or json")
  end
  return r
end

-- The common options of every call.
local function common(fname, o)
  local c = { fname = fname, name = depname(o),
              namespace = str(o, "namespace"), container = str(o, "container"),
              timeout = timeout_arg(o) }
  c.nso = { namespace = c.namespace }
  return c
end

-- ---- cluster helpers (each call is a journal entry of its own) ----

-- unless_missing(c, method, ref) -> true and what c.k:method(ref) returned,
-- or false when the object is not there (any other error is raised).
local function unless_missing(c, method, ref)
  local ok, r = pcall(c.k[method], c.k, ref, c.nso)
  if ok then return true, r end
  if type(r) == "table" and (r.reason == "NotFound" or r.code == "ENOTFOUND") then return false end
  error(r, 0)
end

local function get_or_nil(c, ref)
  local _, obj = unless_missing(c, "get", ref)
  return obj
end

local function must_get(c, ref)
  local obj = get_or_nil(c, ref)
  if not obj then
    error(errors.new("ENOTFOUND", string.format("rollout.%s: %s not found%s", c.fname, ref,
      c.namespace and (" in namespace " .. c.namespace) or "")), 0)
  end
  return obj
end

local function containers_of(dep)
  local t = dep.spec and dep.spec.template and dep.spec.template.spec
  return t and t.containers or {}
end

-- The container a call changes: opts.container, else the first one.
local function container_of(c, dep)
  local list = containers_of(dep)
  for _, x in ipairs(list) do
    if c.container == nil or x.name == c.container then return x end
  end
  error(errors.new("ENOTFOUND", string.format("rollout.%s: deployment/%s has no container '%s'",
    c.fname, dep.metadata.name, tostring(c.container))), 0)
end

local copy = util.copy

local function wait(c, name)
  return c.k:rollout_status("deployment/" .. name, { timeout = c.timeout, namespace = c.namespace })
end

local function set_image(c, name, container, image)
  return c.k:set_image("deployment/" .. name, container, image, c.nso)
end

local function scale(c, name, replicas)
  return c.k:scale("deployment/" .. name, replicas, c.nso)
end

local function delete_if_there(c, ref)
  return (unless_missing(c, "delete", ref))
end

-- A new Deployment `name` from `src`: the same pod template with `labels`
-- added to its labels, selector and pods, and `image` in the container.
local function derive(c, src, name, labels, image, replicas)
  local spec = src.spec
  local match = copy(spec.selector and spec.selector.matchLabels or {})
  local meta_labels = copy(src.metadata.labels or {})
  local tmeta = spec.template.metadata or {}
  local tlabels = copy(tmeta.labels or {})
  for k, v in pairs(labels) do match[k], meta_labels[k], tlabels[k] = v, v, v end
  local pod = copy(spec.template.spec)
  local target = container_of(c, src).name
  for _, x in ipairs(pod.containers) do if x.name == target then x.image = image end end
  local selector = { matchLabels = match }
  if spec.selector and spec.selector.matchExpressions then
    selector.matchExpressions = copy(spec.selector.matchExpressions)
  end
  return {
    apiVersion = "apps/v1", kind = "Deployment",
    metadata = { name = name, namespace = src.metadata.namespace, labels = meta_labels,
                 annotations = { ["summit.dev/derived-from"] = src.metadata.name } },
    spec = { replicas = replicas, selector = selector, strategy = copy(spec.strategy),
             progressDeadlineSeconds = spec.progressDeadlineSeconds,
             revisionHistoryLimit = spec.revisionHistoryLimit,
             template = { metadata = { labels = tlabels, annotations = copy(tmeta.annotations) },
                          spec = pod } },
  }
end

-- ---- routes (the hook for an ingress controller or a mesh) ----

local function route_read(c, r)
  if type(r) ~= "table" or r.patch or r.router then return nil end
  local obj = c.k:get(r.ref, c.nso)
  local a = obj.metadata and obj.metadata.annotations
  return a and a[r.annotation] or nil
end

-- The audit record of a hook's weight (a router records its own, with
-- both Services' weights).
local function hook_audit(c, r, value)
  local w = tonumber(value)
  api.audit.record("rollout.route", {
    deployment = c.name, namespace = c.namespace,
    route = type(r) == "table" and (type(r.ref) == "string" and r.ref or json.encode(r.ref)) or "function",
    weights = { canary = w, stable = w and (100 - w) or nil },
  })
end

-- Sets the route to `value`: a weight (number), or when restoring an
-- annotation its exact previous text (json.null removes it).
local function route_set(c, r, value)
  if type(r) == "table" and r.router then return routers.set(c, r, value) end
  if type(r) == "function" then
    r(value)
  elseif r.patch then
    c.k:patch(r.ref, r.patch(value), { type = r.type or "merge", namespace = c.namespace })
  else
    local v = type(value) == "number" and string.format("%g", value) or value
    c.k:patch(r.ref, { metadata = { annotations = { [r.annotation] = v } } },
      { type = "merge", namespace = c.namespace })
  end
  hook_audit(c, r, value)
end

-- ---- snapshots and their undo ----

local function dep_state(dep)
  if not dep then return nil end
  local images = {}
  for _, x in ipairs(containers_of(dep)) do images[#images + 1] = { name = x.name, image = x.image } end
  return { replicas = dep.spec.replicas or 1, images = images }
end

-- Puts a deployment back as `st` recorded it (nil: it did not exist).
local function restore_dep(c, name, st)
  local cur = get_or_nil(c, "deployment/" .. name)
  if not st then
    if cur then delete_if_there(c, "deployment/" .. name) end
    return
  end
  if not cur then return end   -- deleted since: nothing to restore it from
  local now = {}
  for _, x in ipairs(containers_of(cur)) do now[x.name] = x.image end
  for _, x in ipairs(st.images) do
    if now[x.name] ~= nil and now[x.name] ~= x.image then set_image(c, name, x.name, x.image) end
  end
  if (cur.spec.replicas or 1) ~= st.replicas then scale(c, name, st.replicas) end
  wait(c, name)
end

-- ---- rolling: a plain image change ----

-- rolling{ name, image, container =, timeout = } -> { image, previous, revision }
function M.rolling(o)
  local c = parse("rolling", o, common, function(c) c.image = str(o, "image", true) end)
  local image = c.image
  local name = c.name
  local snap = api.step{ "rolling " .. name .. ": saved state", function()
    return { dep = dep_state(must_get(c, "deployment/" .. name)) }
  end, undo = function(s) restore_dep(c, name, s.dep) end }
  api.step("rolling " .. name .. ": image " .. image, function()
    local dep = must_get(c, "deployment/" .. name)
    set_image(c, name, container_of(c, dep).name, image)
  end)
  local st = api.step("rolling " .. name .. ": wait for rollout", function() return wait(c, name) end)
  local previous
  for _, x in ipairs(snap.dep.images) do
    if c.container == nil or x.name == c.container then previous = x.image; break end
  end
  return { image = image, previous = previous, revision = st and st.revision }
end

-- undo{ name, revision = } -> the rollout_undo result, after the rollout.
function M.undo(o)
  local c = parse("undo", o, common, function()
    if o.revision ~= nil and (type(o.revision) ~= "number" or o.revision < 0) then
      bad("revision", "a revision number expected")
    end
  end)
  local name = c.name
  local r = api.step("undo " .. name .. (o.revision and (" to revision " .. o.revision) or ""), function()
    return c.k:rollout_undo("deployment/" .. name, { revision = o.revision, namespace = c.namespace })
  end)
  api.step("undo " .. name .. ": wait for rollout", function() return wait(c, name) end)
  return r
end

-- ---- blue-green ----

local function bg_opts(fname, o)
  local c = common(fname, o)
  local svc = str(o, "service")
  c.service = svc and (svc:gsub("^svc/", ""):gsub("^services?/", "")) or c.name
  c.label = str(o, "label") or "color"
  local colors = o.colors or { "blue", "green" }
  if type(colors) ~= "table" or type(colors[1]) ~= "string" or type(colors[2]) ~= "string"
      or colors[1] == colors[2] then
    bad("colors", "two different label values expected, e.g. { \"blue\", \"green\" }")
  end
  c.colors = colors
  return c
end

-- A merge patch turning selector `cur` into `want` (null removes a key).
local function selector_patch(cur, want)
  local p = {}
  for k in pairs(cur or {}) do if want[k] == nil then p[k] = json.null end end
  for k, v in pairs(want) do p[k] = v end
  return p
end

local function set_selector(c, cur, want, previous)
  return c.k:patch("service/" .. c.service, {
    metadata = { annotations = { [M.PREVIOUS_SELECTOR] = previous and json.encode(previous) or json.null } },
    spec = { selector = selector_patch(cur, want) },
  }, { type = "merge", namespace = c.namespace })
end

-- blue_green{ name, image, service =, label = "color", colors = {"blue","green"},
--   replicas =, from =, container =, timeout = } -> { active, previous, deployment, service }
function M.blue_green(o)
  local c = parse("blue_green", o, bg_opts, function(c)
    c.image = str(o, "image", true)
    if o.replicas ~= nil and (type(o.replicas) ~= "number" or o.replicas < 1) then
      bad("replicas", "a number >= 1 expected")
    end
    c.from = o.from ~= nil and depname(o, "from") or c.name
  end)
  local image, from = c.image, c.from
  local name, label = c.name, c.label
  local tag = "blue-green " .. name
  local snap = api.step{ tag .. ": saved state", function()
    local svc = must_get(c, "service/" .. c.service)
    local selector = svc.spec.selector or {}
    local active = selector[label]
    local new = active == c.colors[1] and c.colors[2] or c.colors[1]
    return { selector = selector, active = active, new = new,
             target = dep_state(get_or_nil(c, "deployment/" .. name .. "-" .. new)) }
  end, undo = function(s)
    local svc = get_or_nil(c, "service/" .. c.service)
    if svc then
      local prev = svc.metadata.annotations and svc.metadata.annotations[M.PREVIOUS_SELECTOR]
      set_selector(c, svc.spec.selector, s.selector, prev and json.decode(prev) or nil)
    end
    restore_dep(c, name .. "-" .. s.new, s.target)
  end }
  local target = name .. "-" .. snap.new
  api.step(tag .. ": deploy " .. target .. " " .. image, function()
    -- The new color gets the active color's size (or `replicas`).
    local src = snap.active and get_or_nil(c, "deployment/" .. name .. "-" .. snap.active)
    if not src then src = must_get(c, "deployment/" .. from) end
    local want = o.replicas or src.spec.replicas or 1
    local dep = get_or_nil(c, "deployment/" .. target)
    if dep then
      local x = container_of(c, dep)
      if x.image ~= image then set_image(c, target, x.name, image) end
      if dep.spec.replicas ~= want then scale(c, target, want) end
      return
    end
    c.k:create(derive(c, src, target, { [label] = snap.new }, image, want), c.nso)
  end)
  api.step(tag .. ": wait for " .. target, function() return wait(c, target) end)
  local want = copy(snap.selector)
  want[label] = snap.new
  api.step(tag .. ": switch service/" .. c.service .. " to " .. label .. "=" .. snap.new, function()
    set_selector(c, snap.selector, want, snap.selector)
  end)
  return { active = snap.new, previous = snap.active, deployment = target, service = c.service }
end

-- switch_back{ name, service =, label =, colors = } -> { active, previous }:
-- points the Service at the other color again (the one a blue_green call
-- left running), after checking that its Deployment is there and ready.
function M.switch_back(o)
  local c = parse("switch_back", o, bg_opts)
  local name, label = c.name, c.label
  local tag = "blue-green " .. name
  local snap = api.step{ tag .. ": saved state", function()
    local svc = must_get(c, "service/" .. c.service)
    return { selector = svc.spec.selector or {},
             annotation = svc.metadata.annotations and svc.metadata.annotations[M.PREVIOUS_SELECTOR] }
  end, undo = function(s)
    local svc = get_or_nil(c, "service/" .. c.service)
    if svc then
      set_selector(c, svc.spec.selector, s.selector, s.annotation and json.decode(s.annotation) or nil)
    end
  end }
  local active = snap.selector[label]
  if active ~= c.colors[1] and active ~= c.colors[2] then
    error(errors.new("ENOTBLUEGREEN", string.format(
      "rollout.switch_back: service/%s selects no %s (%s=%s or %s); nothing to switch back to",
      c.service, label, label, c.colors[1], c.colors[2])), 0)
  end
  local other = active == c.colors[1] and c.colors[2] or c.colors[1]
  local target = name .. "-" .. other
  api.step(tag .. ": check " .. target, function()
    local dep = must_get(c, "deployment/" .. target)
    local ready = dep.status and dep.status.readyReplicas or 0
    local want = math.max(dep.spec.replicas or 1, 1)
    if ready < want then
      error(errors.new("ENOTREADY", string.format(
        "rollout.switch_back: deployment/%s has %d of %d replicas ready; not switching to it",
        target, ready, want)), 0)
    end
    return ready
  end)
  local want = copy(snap.selector)
  want[label] = other
  api.step(tag .. ": switch service/" .. c.service .. " to " .. label .. "=" .. other, function()
    set_selector(c, snap.selector, want, snap.selector)
  end)
  return { active = other, previous = active, deployment = target, service = c.service }
end

-- ---- canary ----

local function canary_opts(fname, o)
  local c = common(fname, o)
  c.canary = c.name .. "-canary"
  c.route = route_arg(o.route, c.name)
  if o.total ~= nil and (type(o.total) ~= "number" or o.total < 1 or o.total % 1 ~= 0) then
    bad("total", "a whole number >= 1 expected")
  end
  c.total = o.total
  return c
end

-- Canary replicas for a weight: ceil(total * weight / 100), as Argo
-- Rollouts sizes a canary without traffic routing.
local function canary_replicas(total, weight)
  return math.min(total, math.ceil(total * weight / 100 - 1e-9))
end

local function canary_snapshot(c)
  local stable = must_get(c, "deployment/" .. c.name)
  local canary = get_or_nil(c, "deployment/" .. c.canary)
  local s = { stable = dep_state(stable), canary = dep_state(canary) }
  if c.route and c.route.router then
    s.router = routers.read(c, c.route)
    s.services = routers.services_read(c, c.route)
  elseif c.route then
    local ok, v = pcall(route_read, c, c.route)
    s.route = ok and v or nil
    if type(c.route) ~= "table" or c.route.patch then
      local cr = s.canary and s.canary.replicas or 0
      s.route_weight = (c.total or (s.stable.replicas + cr)) > 0
        and math.floor(100 * cr / (c.total or (s.stable.replicas + cr)) + 0.5) or 0
    end
  end
  return s
end

local function canary_restore(c, s)
  -- Capacity first: the stable as it was, then the route, then the canary.
  restore_dep(c, c.name, s.stable)
  if c.route and c.route.router then
    routers.restore(c, c.route, s.router)
    routers.services_restore(c, c.route, s.services)
  elseif c.route then
    local value = s.route_weight or 0
    if type(c.route) == "table" and not c.route.patch then value = s.route or json.null end
    -- A route object that is not there has no weight to put back.
    local ok, err = pcall(route_set, c, c.route, value)
    if not ok and not (type(err) == "table" and (err.reason == "NotFound" or err.code == "ENOTFOUND")) then
      error(err, 0)
    end
  end
  restore_dep(c, c.canary, s.canary)
end

local function record(c, what)
  return api.step{ what .. ": saved state", function() return canary_snapshot(c) end,
    undo = function(s) canary_restore(c, s) end }
end

-- With a router: the stable and canary Services select the pods of their
-- own Deployment (with no canary, both the stable's), by pod-template hash.
local function services_step(c, tag, canary_there)
  local rt = c.route
  api.step(string.format("%sservices %s, %s by pod-template hash", tag, rt.stable, rt.canary), function()
    return routers.services_point(c, rt, canary_there)
  end)
end

-- Sets the canary to `weight`: the canary Deployment (created from the
-- stable's template with track=canary) at its share of the replicas,
-- ready, then the stable scaled to the rest (with a route: kept whole),
-- then the route. Each a step. Returns the sizes.
local function apply_weight(c, tag, image, weight, total)
  tag = tag and (tag .. ": ") or ""
  local n = canary_replicas(total, weight)
  local keep = c.route and total or (total - n)
  api.step(string.format("%s%s at %d of %d replicas", tag, c.canary, n, total), function()
    local dep = get_or_nil(c, "deployment/" .. c.canary)
    if not dep then
      local stable = must_get(c, "deployment/" .. c.name)
      c.k:create(derive(c, stable, c.canary, { track = "canary" }, image, n), c.nso)
      return
    end
    local x = container_of(c, dep)
    if x.image ~= image then set_image(c, c.canary, x.name, image) end
    if dep.spec.replicas ~= n then scale(c, c.canary, n) end
  end)
  api.step(tag .. "wait for " .. c.canary, function() return wait(c, c.canary) end)
  api.step(string.format("%s%s at %d replicas", tag, c.name, keep), function()
    local dep = must_get(c, "deployment/" .. c.name)
    if dep.spec.replicas ~= keep then scale(c, c.name, keep) end
  end)
  if c.route and c.route.router then services_step(c, tag, true) end
  if c.route then
    api.step(string.format("%sroute %g%%", tag, weight), function() route_set(c, c.route, weight) end)
  end
  return { weight = weight, canary = n, stable = keep, total = total }
end

-- The total replicas canary weights divide: opts.total, else the stable's
-- and the canary's replicas now (recorded by the snapshot).
local function total_of(c, s)
  if c.total then return c.total end
  local t = s.stable.replicas + (s.canary and s.canary.replicas or 0)
  if c.route then t = s.stable.replicas end
  return math.max(t, 1)
end

local function canary_image(c, o, s)
  local image = o.image
  if image == nil then
    if not s.canary then
      error(errors.new("EINVALID", string.format("rollout.%s: no image given and deployment/%s "
        .. "does not exist to take it from", c.fname, c.canary)), 0)
    end
    for _, x in ipairs(s.canary.images) do
      if c.container == nil or x.name == c.container then return x.image end
    end
  end
  return image
end

-- canary{ name, image, weight, total =, route =, container =, timeout = }
--   -> { weight, canary, stable, total }
function M.canary(o)
  local c = parse("canary", o, canary_opts, function()
    if o.image ~= nil then str(o, "image", true) end
    argcheck.percent("weight", o.weight)
  end)
  local weight = o.weight
  local tag = string.format("canary %s %g%%", c.name, weight)
  local s = record(c, tag)
  return apply_weight(c, tag, canary_image(c, o, s), weight, total_of(c, s))
end

-- The stable takes the canary's image at full size; the route goes back to
-- 0 and the canary Deployment is deleted. With a router, as Argo Rollouts
-- finishes a canary: all traffic to the canary first (when it has pods),
-- then the stable's update, the stable Service to its new pods, the
-- weight back to the stable, the canary deleted.
local function do_promote(c, tag, image, total, canary_pods)
  tag = tag and (tag .. ": ") or ""
  local router = c.route and c.route.router
  if router and canary_pods then
    api.step(tag .. "route 100%", function() route_set(c, c.route, 100) end)
  end
  api.step(string.format("%s%s to %s at %d replicas", tag, c.name, image, total), function()
    local dep = must_get(c, "deployment/" .. c.name)
    local x = container_of(c, dep)
    if x.image ~= image then set_image(c, c.name, x.name, image) end
    if dep.spec.replicas ~= total then scale(c, c.name, total) end
  end)
  api.step(tag .. "wait for " .. c.name, function() return wait(c, c.name) end)
  if router then services_step(c, tag, false) end
  if c.route then api.step(tag .. "route 0%", function() route_set(c, c.route, 0) end) end
  api.step(tag .. "delete " .. c.canary, function()
    return delete_if_there(c, "deployment/" .. c.canary)
  end)
  return { image = image, replicas = total }
end

-- promote{ name, image =, total = } -> { image, replicas }
function M.promote(o)
  local c = parse("promote", o, canary_opts, function()
    if o.image ~= nil then str(o, "image", true) end
  end)
  local tag = "promote " .. c.name
  local s = record(c, tag)
  return do_promote(c, tag, canary_image(c, o, s), total_of(c, s),
    s.canary ~= nil and s.canary.replicas > 0)
end

-- abort{ name, total = } -> { replicas }: the stable back to full size,
-- the route to 0, the canary deleted.
function M.abort(o)
  local c = parse("abort", o, canary_opts)
  local tag = "abort canary " .. c.name
  local s = record(c, tag)
  local total = total_of(c, s)
  local router = c.route and c.route.router
  -- A router's stable keeps its replicas: the traffic goes back to it first.
  if router then api.step(tag .. ": route 0%", function() route_set(c, c.route, 0) end) end
  api.step(string.format("%s: %s at %d replicas", tag, c.name, total), function()
    local dep = must_get(c, "deployment/" .. c.name)
    if dep.spec.replicas ~= total then scale(c, c.name, total) end
  end)
  api.step(tag .. ": wait for " .. c.name, function() return wait(c, c.name) end)
  if router then
    services_step(c, tag .. ": ", false)
  elseif c.route then
    api.step(tag .. ": route 0%", function() route_set(c, c.route, 0) end)
  end
  api.step(tag .. ": delete " .. c.canary, function()
    return delete_if_there(c, "deployment/" .. c.canary)
  end)
  return { replicas = total }
end

-- progressive{ name, image, steps = {10, 50, 100}, between = fn(weight),
--   promote = true, total =, route =, container =, timeout = }
--   -> { weights = {...}, promoted = bool }
-- Each weight is one step (the canary at that weight, then `between`), so
-- a run killed at 50% resumes inside the 50% step and redoes nothing.
function M.progressive(o)
  local c = parse("progressive", o, canary_opts, function(c)
    c.image = str(o, "image", true)
    if type(o.steps) ~= "table" or #o.steps == 0 then
      bad("steps", "a list of weights expected, e.g. { 10, 50, 100 }")
    end
    for i, w in ipairs(o.steps) do
      argcheck.percent("steps[" .. i .. "]", w)
      if i > 1 and w <= o.steps[i - 1] then bad("steps", "weights must increase") end
    end
    c.between = fn_arg(o, "between")
  end)
  local image, steps, between = c.image, o.steps, c.between
  local last = steps[#steps]
  local tag = "progressive " .. c.name
  local s = record(c, tag)
  local total = total_of(c, s)
  local done = {}
  for i, w in ipairs(steps) do
    local wtag = string.format("%s %g%%", tag, w)
    api.step(wtag, function()
      apply_weight(c, nil, image, w, total)
      if between and i < #steps then between(w) end
    end)
    done[#done + 1] = w
  end
  local promoted = false
  if o.promote ~= false and last == 100 then
    -- The last weight (100) already sent every request to the canary.
    api.step(tag .. ": promote", function() do_promote(c, nil, image, total, false) end)
    promoted = true
  end
  return { weights = done, promoted = promoted, total = total }
end

-- status{ name, service =, label = } -> what runs now (one step, no
-- change): { stable, canary, weight, selector, color, active }, each
-- Deployment as { image, replicas, ready, revision } or nil.
function M.status(o)
  local c = parse("status", o, bg_opts)
  return api.step("rollout status " .. c.name, function()
    local function info(dep)
      if not dep then return nil end
      local a = dep.metadata.annotations or {}
      return { image = container_of(c, dep).image, replicas = dep.spec.replicas or 1,
               ready = dep.status and dep.status.readyReplicas or 0,
               revision = tonumber(a["deployment.kubernetes.io/revision"]) }
    end
    local r = { stable = info(get_or_nil(c, "deployment/" .. c.name)),
                canary = info(get_or_nil(c, "deployment/" .. c.name .. "-canary")) }
    if r.canary then
      local total = (r.stable and r.stable.replicas or 0) + r.canary.replicas
      r.weight = total > 0 and math.floor(1000 * r.canary.replicas / total + 0.5) / 10 or 0
    end
    local svc = get_or_nil(c, "service/" .. c.service)
    if svc then
      r.selector = svc.spec.selector
      r.color = r.selector and r.selector[c.label]
      if r.color then r.active = info(get_or_nil(c, "deployment/" .. c.name .. "-" .. r.color)) end
    end
    return r
  end)
end

M._canary_replicas = canary_replicas

return M
