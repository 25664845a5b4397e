-- The simulated Kubernetes cluster (DESIGN §8): a Kubernetes-API-compatible
-- HTTP server on the current event loop, with Deployments rolled out by a
-- controller over (scaled) time, and scenario knobs that inject faults.
--
--   local sim = require("summit.sim")
--   local s = sim.start{ name = "sim", state_file = PATH or nil,
--                        scenario = TABLE or PATH or nil, time_scale = N,
--                        host = "127.0.0.1", port = 0 }
--   s.url, s.port          -- "http://127.0.0.1:PORT"
--   s.scenario             -- which scenario it runs: "none (the defaults)",
--                          -- "kept with the state (from F)", "F, kept ..."
--                          -- (with a state file the scenario is kept in it;
--                          -- a start without one uses the kept one)
--   s.stop()               -- closes the server, streams and timers; writes
--                          -- the state; the loop can then finish
--   sim.exec(name, namespace, pod, argv [, container])
--       -> { stdout, stderr, exit_code, pod } | nil, err
--       runs a scenario's scripted command "in" a pod ("NAME", "pod/NAME"
--       or "deployment/NAME"), in-process (the HTTP exec subresource
--       serves the same commands over WebSocket, sim/ws_exec.lua; the
--       cluster client falls back to this only if that upgrade is
--       refused). err is a summit error
--       value {code = "NotFound" | "BadRequest" | "ENOSIM", message}.
--   sim.get(name)          -- the running instance, or nil
--   sim.kubeconfig(url)    -- kubeconfig text (JSON, which is YAML) for url
--
-- Everything runs in callbacks on the loop (no coroutines): request
-- handlers and timers must not yield. The embedder must call stop() before
-- it closes the loop (handles must be closed, see core/lua/server.c).

local S = require("summit.c.server")
local T = require("summit.c.task")
local U = require("summit.sim.util")
local SCN = require("summit.sim.scenario")
local STORE = require("summit.sim.store")
local EVENTS = require("summit.sim.events")
local CTL = require("summit.sim.controller")
local API = require("summit.sim.api")
local R = require("summit.sim.resources")
local EXEC = require("summit.sim.exec")
local errors = require("summit.errors")

local M = {}
local instances = {}

local function stderr_log(msg)
  io.stderr:write("summit sim: ", msg, "\n")
  io.stderr:flush()
end

local function def_of_kind(kind)
  for _, d in ipairs(R.list) do
    if d.kind == kind then return d end
  end
  return nil
end

-- Creates the scenario's objects in a fresh cluster. Deployments start
-- fully rolled out: a scenario describes a cluster in a steady state.
local function seed_objects(sim)
  for _, obj in ipairs(SCN.initial_objects(sim.scenario)) do
    local def = def_of_kind(obj.kind)
    local what = string.format("%s/%s", tostring(obj.kind),
                               tostring(U.dig(obj, { "metadata", "name" })))
    if not def then error("sim scenario: cannot create " .. what .. ": unknown kind", 0) end
    local ns = def.namespaced and (U.dig(obj, { "metadata", "namespace" }) or "default") or nil
    local ok, res = pcall(sim.api.create_object, sim.api, def, ns, obj, false)
    if not ok then
      error(string.format("sim scenario: cannot create %s: %s", what,
                          type(res) == "table" and tostring(res.message) or tostring(res)), 0)
    end
    if def.name == "deployments" then sim.controller:settle(res.metadata.uid) end
  end
end

-- The scenario is kept with the state (extra.scenario = { knobs, file }):
-- a start that names none uses the stored one, so a restarted
-- `summit sim serve --state F` and a run on the same state see the
-- cluster they left with the knobs it had; one that names a scenario
-- replaces it. Returns the knobs and a line saying which it is.
local function choose_scenario(o, store, loaded)
  local given, file = o.scenario, nil
  if type(given) == "string" then
    file = given
    local t, err = SCN.load_file(given)
    if not t then error("sim.start: " .. err, 0) end
    given = t
  end
  local kept = loaded and type(store.extra.scenario) == "table" and store.extra.scenario
  if given == nil then
    if not kept then return nil, "none (the defaults)" end
    local ok, err = pcall(SCN.new, kept.knobs)
    if not ok then
      error(string.format("sim.start: the scenario kept in %s: %s", store.file,
                          tostring(err):gsub("^sim scenario: ", "")), 0)
    end
    return kept.knobs, "kept with the state" ..
      (type(kept.file) == "string" and (" (from " .. kept.file .. ")") or "")
  end
  local what = file or "given"
  if not store.file then return given, what end
  local ok, err = pcall(U.canonical, given)
  if not ok then error("sim.start: the scenario cannot be kept with the state: " .. err, 0) end
  store.extra.scenario = { knobs = given, file = file }
  store.dirty = true   -- written at stop even if nothing else changes
  return given, what .. (kept and ", replacing the one kept with the state" or "") ..
    ", kept with the state"
end

function M.start(o)
  o = o or {}
  local name = o.name or "sim"
  if instances[name] then
    error(string.format("sim.start: a sim named %q is already running", name), 2)
  end
  local time_scale = tonumber(o.time_scale) or T.time_scale()
  if not (time_scale > 0) then error("sim.start: time_scale must be > 0", 2) end
  local log = o.log or stderr_log
  local store = STORE.new{ state_file = o.state_file, log = log }
  local loaded, lerr = store:load()
  if loaded == nil then error("sim.start: " .. lerr, 2) end
  local knobs, scenario_note = choose_scenario(o, store, loaded)
  local sim = {
    name = name,
    scenario = SCN.new(knobs),
    scenario_note = scenario_note,
    time_scale = time_scale,
    log = log,
    access_log = o.access_log,
  }
  sim.rng = U.rng(sim.scenario.seed)
  store.rng = sim.rng
  store.history_max = tonumber(sim.scenario.watch_history) or store.history_max
  if loaded and store.extra.rng then sim.rng.set_state(store.extra.rng) end
  -- The generator's position is state too: names drawn after a restart
  -- must not repeat the ones drawn before it.
  store.before_save = function() store.extra.rng = sim.rng.state() end
  sim.store = store
  sim.events = EVENTS.new(store)
  sim.controller = CTL.new{ store = store, events = sim.events, scenario = sim.scenario,
                            time_scale = sim.time_scale, rng = sim.rng }
  sim.api = API.new(sim)
  -- Pod request rates follow the route objects' weights (sim/traffic.lua).
  require("summit.sim.traffic").attach(sim, require("summit.sim.metrics").own_rps(sim))
  if not loaded then
    sim.api:ensure_namespace("default")
    seed_objects(sim)
  end
  local host = o.host or "127.0.0.1"
  local ok, server = pcall(S.listen, host, tonumber(o.port) or 0, function(req, x)
    sim.api:handle(req, x)
  end, sim.scenario.server)
  if not ok then
    store:close()
    error("sim.start: " .. tostring(server), 2)
  end
  sim.server = server
  if store.dirty then store:mark_dirty() end   -- a new scenario: on disk soon
  sim.controller:start()
  sim.controller:sync_all()
  local port = server:port()
  local shown = host:find(":", 1, true) and ("[" .. host .. "]") or host
  local inst = { name = name, port = port, url = "http://" .. shown .. ":" .. port,
                 sim = sim, scenario = scenario_note }
  function inst.stop()
    if inst.stopped then return end
    inst.stopped = true
    sim.controller:stop()
    sim.api:close_streams()
    sim.server:close()
    store:close()
    instances[name] = nil
  end
  function inst.exec(namespace, pod, argv, container)
    return M.exec(name, namespace, pod, argv, container)
  end
  instances[name] = inst
  return inst
end

function M.get(name) return instances[name or "sim"] end

function M.stop(name)
  local inst = instances[name or "sim"]
  if inst then inst.stop() end
end

function M.exec(name, namespace, pod, argv, container)
  local inst = instances[name or "sim"]
  if not inst then
    return nil, errors.new("ENOSIM", string.format("no simulated cluster named %q is running",
                                                   tostring(name or "sim")))
  end
  if type(argv) ~= "table" or #argv == 0 then
    error("sim.exec: argv must be a non-empty table of strings", 2)
  end
  local args = {}
  for i, a in ipairs(argv) do args[i] = tostring(a) end
  local sim = inst.sim
  local ns = namespace or "default"
  local kind, ref = tostring(pod):match("^([%w%.]+)/(.+)$")
  kind = kind and kind:lower()
  local p
  if kind == "deployment" or kind == "deploy" or kind == "deployments" or
     kind == "deployment.apps" then
    if not sim.store:get("deployments", ns, ref) then
      return nil, errors.new("NotFound", string.format('deployments.apps "%s" not found', ref))
    end
    p = sim.controller:pod_for_deployment(ns, ref)
    if not p then
      return nil, errors.new("NotFound", string.format('no pods found for deployment "%s"', ref))
    end
  else
    local pname = (kind == "pod" or kind == "pods" or kind == "po") and ref or tostring(pod)
    p = sim.store:get("pods", ns, pname)
    if not p then
      return nil, errors.new("NotFound", string.format('pods "%s" not found', pname))
    end
  end
  local cname = container or
    U.dig(p, { "metadata", "annotations", "kubectl.kubernetes.io/default-container" }) or
    U.dig(p, { "spec", "containers", 1, "name" })
  local running = false
  for _, cs in ipairs(U.dig(p, { "status", "containerStatuses" }) or {}) do
    if cs.name == cname and U.dig(cs, { "state", "running" }) then running = true end
  end
  if not running then
    return nil, errors.new("BadRequest", string.format(
      'container %s is not running in pod %s (it is %s)', tostring(cname),
      p.metadata.name, require("summit.sim.tables").pod_status(p)))
  end
  local r = EXEC.run(sim.scenario, p, cname, args, sim.store)
  r.pod, r.container = p.metadata.name, cname
  return r
end

-- summit sim serve: start{...} plus, with o.kubeconfig, a kubeconfig file
-- for kubectl, and with o.verbose a stderr line per request.
function M.serve(o)
  if o.verbose then o.access_log = stderr_log end
  local ok, inst = pcall(M.start, o)
  if not ok then
    -- For the command line the message alone: no file:line of this call.
    error((tostring(inst):gsub("^summit/sim%.lua:%d+: ", ""):gsub("^sim%.start: ", "")), 0)
  end
  if o.kubeconfig then
    local f, err = io.open(o.kubeconfig, "wb")
    if not f then
      inst.stop()
      error("cannot write the kubeconfig: " .. tostring(err), 0)
    end
    f:write(M.kubeconfig(inst.url))
    f:close()
  end
  return inst
end

-- A kubeconfig for the sim at url (JSON is valid YAML; kubectl reads it).
function M.kubeconfig(url, namespace)
  return U.encode({
    apiVersion = "v1", kind = "Config", preferences = {},
    clusters = U.A({ { name = "summit-sim", cluster = { server = url } } }),
    users = U.A({ { name = "summit-sim", user = {} } }),
    contexts = U.A({ { name = "summit-sim",
                       context = { cluster = "summit-sim", user = "summit-sim",
                                   namespace = namespace or "default" } } }),
    ["current-context"] = "summit-sim",
  }) .. "\n"
end

return M
