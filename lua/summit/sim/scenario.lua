-- Scenario knobs of the simulated cluster: what goes wrong, and how fast
-- things happen. A scenario is a table (from summit.lua, or a .json or
-- .lua file); anything left out takes the default below. docs/sim.md
-- has an example of every knob.

local U = require("summit.sim.util")

local M = {}

M.DEFAULTS = {
  -- Seconds of simulated time for one new pod to become ready; a rollout
  -- of N pods takes about N times this (divided by --time-scale in real
  -- time).
  rollout_seconds_per_pod = 5,
  -- Images (exact, or globs with * and ?) whose pods never become ready:
  -- ErrImagePull/ImagePullBackOff, and the rollout exceeds its progress
  -- deadline.
  bad_images = {},
  -- Images whose containers start and crash over and over: CrashLoopBackOff
  -- with a growing restart count, never ready.
  crashloop_images = {},
  -- Fraction (0..1) of API requests answered with an injected error,
  -- chosen among api_error_codes; never /version, discovery or /openapi.
  api_error_rate = 0,
  api_error_codes = { 500, 429, 503 },
  -- Seed of every random choice (pod names, uids, injected errors).
  seed = 1,
  -- Most pods the sim keeps in all (a Deployment may ask for up to
  -- 2147483647 replicas, as the API allows; the rest stay uncreated, with
  -- a FailedCreate event, as under a quota).
  max_pods = 1000,
  -- Scripted commands for exec: { match = {argv...}, prefix = bool,
  -- deployment = glob, pod = glob, stdout =, stderr =, exit_code =,
  -- when = {k = v}, set = {k = v}, state = configmap, delay_seconds = }
  -- (sim/exec.lua).
  exec = {},
  -- Objects created on a fresh start (no state yet): full Kubernetes
  -- objects, plus shorthands in deployments/services/configmaps.
  objects = {},
  deployments = {},
  services = {},
  configmaps = {},
  namespaces = {},
  -- Extra log lines per image glob: { ["registry/web:*"] = {"line", ...} }.
  logs = {},
  -- Real seconds between generated log lines of a running container.
  log_interval_seconds = 5,
  -- How many changes the watch history keeps; a watch from a
  -- resourceVersion older than that gets 410 Expired (see store.lua).
  watch_history = 1000,
  -- Limits of the sim's HTTP server (core/io/server.h, 0 or absent: its
  -- default): header_timeout_ms (10000), body_timeout_ms (60000),
  -- idle_timeout_ms (60000), max_header_bytes (81920), max_body_bytes
  -- (8 MiB), max_connections (512).
  server = {},
  -- Application metrics of ready pods (/metrics, /api/v1/query): request
  -- rate, error rate, latency, database time, CPU, memory, with per-track
  -- and per-image overrides; knobs in sim/metrics.lua (M.PROFILE).
  metrics = {},
}

-- A path in summit.lua is relative to summit.lua's directory (base_file
-- is summit.lua's path); an absolute one, or ~/..., is taken as it is.
function M.resolve(path, base_file)
  if type(path) ~= "string" then return path end
  if path:sub(1, 2) == "~/" then return (os.getenv("HOME") or "~") .. path:sub(2) end
  if path:sub(1, 1) == "/" or not base_file then return path end
  local dir = base_file:match("^(.*)/[^/]*$")
  return dir and (dir .. "/" .. path) or path
end

-- "invalid JSON at byte N" -> "path:LINE:COL: invalid JSON (byte N)",
-- so an editor can jump to it.
local function json_where(path, text, err)
  local at = tonumber(tostring(err):match("at byte (%d+)"))
  if not at then return path .. ": " .. tostring(err or "must be a JSON object") end
  local before = text:sub(1, at)
  local line = select(2, before:gsub("\n", "")) + 1
  local col = at - (before:match(".*()\n") or 0) + 1
  return string.format("%s:%d:%d: %s", path, line, col, tostring(err))
end

-- Runs a .lua scenario with no globals: a scenario is data, and a file
-- that sets `seed = 2` instead of returning it would otherwise be a
-- scenario of defaults without a word.
local function run_lua(path, text)
  local chunk, perr = loadstring(text, "@" .. path)
  if not chunk then return nil, perr end
  setfenv(chunk, setmetatable({}, {
    __index = function(_, k)
      error(string.format("unknown global '%s' (a scenario file is data: it reads no globals)",
                          tostring(k)), 2)
    end,
    __newindex = function(_, k)
      error(string.format("a scenario file sets no globals ('%s = ...'): return a table of knobs",
                          tostring(k)), 2)
    end,
  }))
  local ok, v = pcall(chunk)
  if not ok then
    v = tostring(v)
    return nil, v:find(path, 1, true) == 1 and v or (path .. ": " .. v)
  end
  if type(v) ~= "table" then return nil, path .. ": must return a table of knobs" end
  return v
end

-- Loads a scenario file: .json, or .lua returning a table. Returns the
-- table (checked: an unknown knob or a bad value is an error naming the
-- file), or nil and a message that starts with the file's name.
function M.load_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot read the scenario: " .. tostring(err) end
  local text = f:read("*a")
  f:close()
  local v, lerr
  if path:match("%.lua$") then
    v, lerr = run_lua(path, text)
  else
    local derr
    v, derr = U.decode(text)
    if type(v) ~= "table" or U.is_array(v) and next(v) then
      v, lerr = nil, json_where(path, text, derr or "must be a JSON object of knobs")
    end
  end
  if not v then return nil, lerr end
  local ok, cerr = pcall(M.new, v)
  if not ok then return nil, path .. ": " .. tostring(cerr):gsub("^sim scenario: ", "") end
  return v
end

-- The effective scenario: defaults with t's knobs over them. Raises on an
-- unknown knob, so a typo does not silently do nothing.
function M.new(t)
  t = t or {}
  local s = {}
  for k, v in pairs(M.DEFAULTS) do s[k] = U.copy(v) end
  for k, v in pairs(t) do
    if M.DEFAULTS[k] == nil then
      local known = {}
      for name in pairs(M.DEFAULTS) do known[#known + 1] = name end
      table.sort(known)
      error(string.format("sim scenario: unknown knob %q (known: %s)", tostring(k),
                          table.concat(known, ", ")), 0)
    end
    if v ~= U.null then s[k] = v end
  end
  if type(s.rollout_seconds_per_pod) ~= "number" or s.rollout_seconds_per_pod < 0 then
    error("sim scenario: rollout_seconds_per_pod must be a number >= 0", 0)
  end
  if type(s.max_pods) ~= "number" or s.max_pods < 0 or s.max_pods ~= math.floor(s.max_pods) then
    error("sim scenario: max_pods must be a whole number >= 0", 0)
  end
  if type(s.api_error_rate) ~= "number" or s.api_error_rate < 0 or s.api_error_rate > 1 then
    error("sim scenario: api_error_rate must be between 0 and 1", 0)
  end
  for i, e in ipairs(type(s.exec) == "table" and s.exec or {}) do
    for _, f in ipairs({ "when", "set" }) do
      if e[f] ~= nil and type(e[f]) ~= "table" then
        error(string.format("sim scenario: exec[%d].%s must be a table of key = value", i, f), 0)
      end
    end
    if e.delay_seconds ~= nil and (type(e.delay_seconds) ~= "number" or e.delay_seconds < 0) then
      error(string.format("sim scenario: exec[%d].delay_seconds must be a number >= 0", i), 0)
    end
    if e.state ~= nil and (type(e.state) ~= "string" or e.state == "") then
      error(string.format("sim scenario: exec[%d].state must be a ConfigMap name", i), 0)
    end
  end
  if type(s.server) ~= "table" or U.is_array(s.server) and next(s.server) then
    error("sim scenario: server must be a table of limits", 0)
  end
  local LIMITS = { header_timeout_ms = true, body_timeout_ms = true, idle_timeout_ms = true,
                   max_header_bytes = true, max_body_bytes = true, max_connections = true }
  for k, v in pairs(s.server) do
    if not LIMITS[k] then
      error(string.format("sim scenario: unknown server limit %q", tostring(k)), 0)
    end
    if type(v) ~= "number" or v < 0 or v ~= math.floor(v) or v > 2147483647 then
      error(string.format("sim scenario: server.%s must be a whole number >= 0", k), 0)
    end
  end
  require("summit.sim.metrics").check(s.metrics)
  return s
end

function M.is_bad(s, image) return U.glob_any(s.bad_images, image) end
function M.is_crashloop(s, image) return U.glob_any(s.crashloop_images, image) end

-- Expands the shorthands into objects to create on a fresh start:
--   deployments = { { name, namespace, image, replicas, labels, env,
--                     containers, port } }
--   services    = { { name, namespace, selector, port, target_port, type } }
--   configmaps  = { { name, namespace, data } }
function M.initial_objects(s)
  local out = {}
  for _, ns in ipairs(s.namespaces or {}) do
    out[#out + 1] = { apiVersion = "v1", kind = "Namespace",
                      metadata = { name = ns } }
  end
  -- Through JSON, so a Lua list is a list as an API body's is (a JSON
  -- patch indexes it: /spec/rules/0/...).
  for _, o in ipairs(s.objects or {}) do out[#out + 1] = U.decode(U.encode(o)) end
  for _, d in ipairs(s.deployments or {}) do
    local labels = U.copy(d.labels or { app = d.name })
    local containers = d.containers and U.A(U.copy(d.containers))
    if not containers then
      local env = U.A()
      for _, k in ipairs(U.keys(d.env or {})) do
        env[#env + 1] = { name = k, value = tostring(d.env[k]) }
      end
      local c = { name = d.container or d.name, image = d.image }
      if #env > 0 then c.env = env end
      if d.port then c.ports = U.A({ { containerPort = d.port } }) end
      containers = U.A({ c })
    end
    out[#out + 1] = {
      apiVersion = "apps/v1", kind = "Deployment",
      metadata = { name = d.name, namespace = d.namespace or "default",
                   labels = U.copy(labels) },
      spec = {
        replicas = d.replicas or 1,
        selector = { matchLabels = U.copy(d.selector or labels) },
        template = { metadata = { labels = U.copy(labels) },
                     spec = { containers = containers } },
      },
    }
  end
  for _, sv in ipairs(s.services or {}) do
    out[#out + 1] = {
      apiVersion = "v1", kind = "Service",
      metadata = { name = sv.name, namespace = sv.namespace or "default" },
      spec = {
        type = sv.type,
        selector = U.copy(sv.selector or { app = sv.name }),
        ports = U.A({ { port = sv.port or 80,
                        targetPort = sv.target_port or sv.port or 80 } }),
      },
    }
  end
  for _, cm in ipairs(s.configmaps or {}) do
    out[#out + 1] = {
      apiVersion = "v1", kind = "ConfigMap",
      metadata = { name = cm.name, namespace = cm.namespace or "default" },
      data = U.copy(cm.data or {}),
    }
  end
  return out
end

return M
