-- summit.lua: the team's configuration (DESIGN §7), loaded in a small
-- sandbox and checked key by key, so a typo is reported with its line
-- instead of silently meaning "not configured".
local util = require("summit.util")
local argcheck = require("summit.args")
local S = require("summit.sandbox")
local M = {}

M.current = nil     -- the loaded table, or nil
M.path = nil
M.env_name = nil    -- --env
M.env = nil         -- the selected environment's table (with .name)

local TOP = {
  environments = "table", clusters = "table", metrics = "table",
  approvers = "table", commands = "table", notifications = "table",
  allowed_signers = "string", windows = "table", defaults = "table",
  runbooks = "table", http = "table", secrets = "table", limits = "table",
  modules = "table",
}
local ENV = {
  cluster = "string", namespace = "string", traffic = "number",
  approval = "table", url = "string", vars = "table", description = "string",
  windows = "table", deployment = "string", app = "string",
  metrics = "table", route = "table",
}
local CLUSTER = {
  sim = "boolean", kubeconfig = "string", context = "string",
  namespace = "string", server = "string", token = "string",
  token_file = "string", ca_file = "string", insecure = "boolean",
  scenario = "table or string", in_cluster = "boolean",
}
local HTTP = { max_per_host = "number", max_total = "number" }
local LIMITS = { load = true, memory = true }   -- limits: watchdog budgets
local METRICS = { url = "string", queries = "table", headers = "table", timeout = "string",
                  cluster = "string", provider = "string", providers = "table" }

-- The first line of src that assigns key (for error positions).
local function line_of(src, key)
  local n = 0
  for line in (src .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local k = tostring(key):gsub("%p", "%%%0")
    if line:find("^%s*" .. k .. "%s*=") or line:find("[{,;]%s*" .. k .. "%s*=")
        or line:find("%[%s*[\"']" .. k .. "[\"']%s*%]%s*=") then
      return n
    end
  end
end

-- check(path, src, cfg) -> list of problems, each "file:line: message".
local function check(path, src, cfg)
  local errs = {}
  local function bad(key, fmt, ...)
    errs[#errs + 1] = string.format("%s:%s: " .. fmt, path, line_of(src, key) or "?", ...)
  end
  -- A sim cluster's scenario (a table, or a file relative to summit.lua)
  -- is checked now: a misspelt knob is found before a run needs it.
  local function scenario(name, c)
    if type(c.scenario) ~= "table" and type(c.scenario) ~= "string" then return end
    local SCN = require("summit.sim.scenario")
    local err
    if type(c.scenario) == "string" then
      local t, e = SCN.load_file(SCN.resolve(c.scenario, path))
      err = not t and e or nil
    else
      local ok, e = pcall(SCN.new, c.scenario)
      err = not ok and tostring(e):gsub("^sim scenario: ", "") or nil
    end
    if err then bad("scenario", "clusters.%s.scenario: %s", tostring(name), err) end
  end
  local function fields(where, t, schema, keyname)
    for k, v in pairs(t) do
      local want = schema[k]
      if not want then
        bad(k, "unknown key '%s' in %s (known: %s)", tostring(k), where, util.key_list(schema))
      elseif type(v) ~= want and not (want == "table or string" and
                                      (type(v) == "table" or type(v) == "string")) then
        bad(k, "%s.%s must be a %s, not a %s", where, tostring(k), want, type(v))
      end
    end
  end
  fields("summit.lua", cfg, TOP)
  if type(cfg.clusters) == "table" then
    for name, c in pairs(cfg.clusters) do
      if type(c) ~= "table" then bad(name, "clusters.%s must be a table", tostring(name))
      else
        fields("clusters." .. tostring(name), c, CLUSTER)
        scenario(name, c)
      end
    end
  end
  if type(cfg.environments) == "table" then
    for name, e in pairs(cfg.environments) do
      if type(e) ~= "table" then
        bad(name, "environments.%s must be a table", tostring(name))
      else
        fields("environments." .. tostring(name), e, ENV)
        if type(e.cluster) == "string" and not (cfg.clusters and cfg.clusters[e.cluster]) then
          bad("cluster", "environments.%s.cluster names '%s', which is not in clusters",
            tostring(name), e.cluster)
        end
      end
    end
  end
  -- metrics: top level, and per environment over it (docs/metrics.md).
  local function metrics(where, m)
    fields(where, m, METRICS)
    if type(m.cluster) == "string" and not (type(cfg.clusters) == "table" and cfg.clusters[m.cluster]) then
      bad("cluster", "%s.cluster names '%s', which is not in clusters", where, m.cluster)
    end
    for name, q in pairs(type(m.queries) == "table" and m.queries or {}) do
      if type(q) == "table" then
        -- A template of another provider: { provider = NAME, query = ... }.
        if type(q.provider) ~= "string" or q.query == nil then
          bad(name, "%s.queries.%s: a table template needs provider (a name) and query", where,
            tostring(name))
        end
      elseif type(q) ~= "string" then
        bad(name, "%s.queries.%s must be a PromQL string, not a %s (or a table { provider =, query = })",
          where, tostring(name), type(q))
      end
    end
    -- Providers other than Prometheus; their module checks their keys.
    if type(m.providers) == "table" then
      for _, why in ipairs(require("summit.metrics.providers").check(where .. ".providers", m.providers)) do
        bad("providers", "%s", why)
      end
    end
  end
  if type(cfg.metrics) == "table" then metrics("metrics", cfg.metrics) end
  -- http: connection caps of the runbook's HTTP client (docs/configuration.md).
  if type(cfg.http) == "table" then
    fields("http", cfg.http, HTTP)
    for _, k in ipairs({ "max_per_host", "max_total" }) do
      local v = cfg.http[k]
      if type(v) == "number" and (v < 0 or v ~= math.floor(v) or v > 1e6) then
        bad(k, "http.%s must be a whole number from 0 (no cap) to 1000000, not %s", k, tostring(v))
      end
    end
  end
  for name, e in pairs(type(cfg.environments) == "table" and cfg.environments or {}) do
    if type(e) == "table" and type(e.metrics) == "table" then
      metrics("environments." .. tostring(name) .. ".metrics", e.metrics)
    end
  end
  -- limits: the watchdog's budgets (docs/configuration.md); the C side
  -- parses the values (core/engine/limits.c).
  if type(cfg.limits) == "table" then
    for k, v in pairs(cfg.limits) do
      if not LIMITS[k] then
        bad(k, "unknown key '%s' in limits (known: %s)", tostring(k), util.key_list(LIMITS))
      elseif type(v) ~= "string" and type(v) ~= "number" then
        bad(k, "limits.%s must be a string (like %s) or a number, not a %s", k,
          k == "memory" and '"512MiB"' or '"5s"', type(v))
      end
    end
  end
  -- modules: the team modules' directories (docs/authoring.md "Team modules").
  if type(cfg.modules) == "table" then
    for k, d in pairs(cfg.modules) do
      if type(k) ~= "number" or k < 1 or k > #cfg.modules or k ~= math.floor(k) then
        bad("modules", "modules must be a list of directories like { \"lib\" }, not a table "
          .. "with key %s", tostring(k))
      elseif type(d) ~= "string" or d == "" then
        bad("modules", "modules[%d] must be a directory (a non-empty string), not %s", k,
          type(d) == "string" and "\"\"" or ("a " .. type(d)))
      end
    end
  end
  if type(cfg.approvers) == "table" then
    for who, roles in pairs(cfg.approvers) do
      if type(roles) ~= "table" then
        bad(who, "approvers.%s must be a list of roles", tostring(who))
      end
    end
  end
  if type(cfg.commands) == "table" then
    for name, argv in pairs(cfg.commands) do
      if type(argv) ~= "table" or #argv == 0 then
        bad(name, "commands.%s must be an argv list like { \"make\", \"smoke\" }", tostring(name))
      end
    end
  end
  -- The deployment windows' calendar (stdlib/summit/window.lua knows its
  -- format): a mistake there is found now, not when a deploy reaches it.
  local has_w = type(cfg.windows) == "table"
  for _, e in pairs(type(cfg.environments) == "table" and cfg.environments or {}) do
    if type(e) == "table" and type(e.windows) == "table" then has_w = true end
  end
  if has_w then
    local ok, W = pcall(require, "summit.window")
    if ok and W.problems then
      for _, p in ipairs(W.problems(cfg)) do bad(p.key, "%s", p.message) end
    end
  end
  -- notifications: channels, default, rules (summit.notify knows them).
  if type(cfg.notifications) == "table" then
    local ok, N = pcall(require, "summit.notify")
    if ok and N.problems then
      for _, p in ipairs(N.problems(cfg)) do bad(p.key, "%s", p.message) end
    end
  end
  -- secrets: each NAME = { env = "VAR" } or { file = "PATH" } (docs/secrets.md).
  if type(cfg.secrets) == "table" then
    for name, src in pairs(cfg.secrets) do
      if type(name) ~= "string" or not name:match("^[%a_][%w_%-]*$") then
        bad(name, "secrets: %s is not a valid name", tostring(name))
      elseif type(src) ~= "table" or (src.env == nil) == (src.file == nil) then
        bad(name, "secrets.%s must be { env = \"VAR\" } or { file = \"PATH\" }", name)
      else
        for k, v in pairs(src) do
          if (k ~= "env" and k ~= "file") or type(v) ~= "string" or v == "" then
            bad(name, "secrets.%s: unknown key or not a string: %s", name, tostring(k))
          end
        end
      end
    end
    if #errs == 0 then
      for _, p in ipairs(require("summit.secrets").load(cfg, path)) do bad(p.key, "%s", p.message) end
    end
  end
  table.sort(errs)
  return errs
end

-- open(path, src, env_name) -> true, or nil and a list of problems.
function M.open(path, src, env_name)
  local chunk, err = loadstring(src, "@" .. path)
  if not chunk then return nil, { err } end
  -- Copies of the libraries, never the engine's own: summit.lua that
  -- assigns string.lower changes its copy (summit.sandbox).
  local sandbox = {
    os = { getenv = os.getenv }, string = S.lib(string, { "dump" }),
    table = S.lib(table), math = S.lib(math),
    tostring = tostring, tonumber = tonumber, pairs = pairs, ipairs = ipairs,
    type = type, error = error, assert = assert, select = select,
  }
  setfenv(chunk, setmetatable(sandbox, { __index = function(_, k)
    error(string.format("unknown global '%s' in configuration", tostring(k)), 2)
  end }))
  local ok, cfg = pcall(chunk)
  if not ok then return nil, { tostring(cfg) } end
  if type(cfg) ~= "table" then
    return nil, { path .. ": must return a table (return { environments = ... })" }
  end
  -- The engine keeps its own copy: a function of summit.lua that the
  -- engine calls later cannot rewrite, say, an approval policy through
  -- the table it returned.
  cfg = S.deep(cfg)
  local errs = check(path, src, cfg)
  if #errs > 0 then return nil, errs end
  M.current, M.path = cfg, path
  return M.select(env_name)
end

-- notification_rules() -> true when summit.lua's notifications have rules:
-- only then do a run's end and an approval gate load summit.notify for
-- the automatic notifications (docs/notifications.md).
function M.notification_rules()
  local n = type(M.current) == "table" and M.current.notifications
  return type(n) == "table" and type(n.rules) == "table" and n.rules[1] ~= nil
end

-- http_caps() -> max_per_host, max_total of summit.lua's http table (nil:
-- the client's defaults), for every request of the run (docs/configuration.md).
function M.http_caps()
  local h = type(M.current) == "table" and M.current.http
  if type(h) ~= "table" then return nil, nil end
  return h.max_per_host, h.max_total
end

-- select(env_name): makes environments[env_name] the run's `env`.
function M.select(env_name)
  M.env_name = env_name
  if env_name == nil then
    M.env = nil
    return true
  end
  local envs = M.current and M.current.environments or {}
  local e = envs[env_name]
  if type(e) ~= "table" then
    local where = M.path or "no summit.lua was found"
    return nil, { string.format("unknown environment '%s' (%s defines: %s)", env_name,
      where, argcheck.known(envs)) }
  end
  local copy = {}
  for k, v in pairs(e) do copy[k] = v end
  copy.name = env_name
  M.env = copy
  return true
end

return M
