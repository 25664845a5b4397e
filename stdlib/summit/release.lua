-- summit.release: the phases of the platform team's deployment procedure
-- (docs/runbooks/deploy.md), shared by runbooks/deploy.lua, hotfix.lua,
-- verify.lua and the team's own runbooks.
--
--   local release = require("summit.release")
--   local s = release.settings(p)                  -- params over summit.lua's defaults.release
--   local t = release.target("production", s)      -- env, cluster client, namespace, app
--   release.window("production", { justification = p.justification })
--   release.checklist(s)                           -- the seed's pre-deployment checklist
--   release.prepare(s)                             -- release branch, bump, changelog, preflight
--   release.staging(s)                             -- merge, deploy, rollout status, tests, health, migrations
--   release.canary(s)                              -- 5% canary + analysis; aborts it on a bad verdict
--   release.approve_production(s)                  -- Platform Lead + a second approver
--   release.production(s)                          -- blue-green | progressive | canary | rolling
--   local v = release.verify(s)                    -- smoke, critical paths, metrics, flags
--   release.finalize(s)                            -- tag, notes, SBOM, provenance, upload, notify
--
-- Every phase is a step (or a group of steps) of its own, so a resumed run
-- replays what was done; every outside effect goes through the journaled
-- primitives. What a team plugs in (commands, thresholds, roles)
-- comes from summit.lua's `commands` and `defaults.release`, and
-- runbook params override them.
local api = require("summit.api")
local config = require("summit.config")
local errors = require("summit.errors")
local rollout = require("summit.rollout")
local checks = require("summit.checks")
local checklist = require("summit.checklist")
local window = require("summit.window")
local canary = require("summit.canary")
local flags = require("summit.flags")
local json = require("summit.json")
local argcheck = require("summit.args")
local util = require("summit.util")

local M = {}

M.STRATEGIES = { "blue-green", "progressive", "canary", "rolling" }
-- A release version param's pattern: v1.2.3, 1.2.3-rc.1, v4.0.5+build.7.
M.VERSION_PATTERN = "^v?%d+%.%d+%.%d+[%w%.%-+]*$"
M.PHASES = { "window", "checklist", "prepare", "staging", "canary", "production", "verify", "finalize" }

-- The seed's thresholds (DEPLOYMENT_RUNBOOK.md): the defaults of every
-- setting below.
M.DEFAULTS = {
  app = "web",
  image = "registry/{{app}}:{{version}}",
  environments = { staging = "staging", canary = "canary", production = "production" },
  strategy = "progressive",
  progressive_steps = { 10, 50, 100 },
  canary_steps = { 5, 25, 100 },
  canary_weight = 5,
  -- canary analysis: 30 minutes (a round every 5 minutes after 2 of warm-up)
  canary_count = 6, canary_interval = "5m", canary_initial_delay = "2m",
  canary_max_error_rate = 0.01,       -- < 1%
  canary_error_margin = 0.002,        -- "similar to production": at most 0.2 points above it
  canary_latency_increase = 0.10,     -- P50/P95/P99 within 10% of production
  canary_min_success_rate = 99,       -- > 99% (percent)
  canary_resource_increase = 0.20,    -- memory (and CPU, watched) vs production
  canary_inconclusive = "ask",        -- "ask": a gate CANARY-inconclusive; "abort": roll back
  -- between the steps of a production rollout
  monitor_wait = "15m", monitor_max_error_rate = 0.01,
  -- post-deployment verification
  verify_count = 4, verify_interval = "15m",   -- "monitor for 1 hour minimum"
  verify_max_error_rate = 0.005,      -- < 0.5%
  verify_max_p95 = 0.5,               -- < 500 ms (seconds)
  health_path = "/api/health",
  rollout_timeout = "10m",
  -- who approves
  production_roles = { ["platform-lead"] = 1, ["senior-engineer"] = 1 },
  canary_roles = { "platform-lead" },
  emergency_roles = { "platform-lead" },
  override_roles = { "platform-lead" },
  checklist_roles = nil,              -- anyone (but the starter)
  -- git
  git = false, remote = nil, main = "main",
  -- commands (names in summit.lua's commands) of the phases
  preflight = { "test", "verify", "security_scan", "build" },
  staging_tests = { "smoke", "integration" },
  critical_paths = { "check_auth", "check_api", "check_database", "check_graph" },
}

-- ---- settings ----

local copy = util.copy

local function cfg() return config.current or {} end

local function team()
  local d = cfg().defaults
  return type(d) == "table" and type(d.release) == "table" and d.release or {}
end

local bad = argcheck.raiser("release.")

-- settings(p) -> the settings of a run: the built-in defaults, then
-- summit.lua's defaults.release, then every non-nil param of the same name.
-- `skip` ("a,b" or a list) names phases to leave out.
function M.settings(p)
  if p ~= nil and type(p) ~= "table" then bad("settings", "params", "the run's params table expected") end
  local s = copy(M.DEFAULTS)
  for k, v in pairs(team()) do s[k] = copy(v) end
  for k, v in pairs(p or {}) do if v ~= nil and v ~= "" then s[k] = v end end
  local skip = {}
  local sk = s.skip
  if type(sk) == "string" then
    for w in sk:gmatch("[^,%s]+") do skip[w] = true end
  elseif type(sk) == "table" then
    for k, v in pairs(sk) do
      if type(k) == "number" then skip[v] = true elseif v then skip[k] = true end
    end
  end
  for name in pairs(skip) do
    local known = false
    for _, ph in ipairs(M.PHASES) do if ph == name then known = true end end
    if not known then
      bad("settings", "skip", "unknown phase '" .. tostring(name) .. "' (phases: "
        .. table.concat(M.PHASES, ", ") .. ")")
    end
  end
  s.skip = skip
  if s.git == "false" then s.git = false end
  if s.version and not s.image_ref then
    s.image_ref = (s.image:gsub("{{(%w+)}}", function(k)
      local v = s[k]
      return v ~= nil and tostring(v) or ("{{" .. k .. "}}")
    end))
  end
  local okstrat = false
  for _, x in ipairs(M.STRATEGIES) do if x == s.strategy then okstrat = true end end
  if not okstrat then
    bad("settings", "strategy", "one of " .. table.concat(M.STRATEGIES, ", ") .. ", got '"
      .. tostring(s.strategy) .. "'")
  end
  return s
end

function M.skipped(s, phase)
  if s.skip[phase] then
    api.log.info("%s: skipped (skip=%s)", phase, phase)
    return true
  end
  return false
end

-- env(name) -> a copy of environments[name] of summit.lua, with .name.
function M.env(name)
  local envs = cfg().environments or {}
  local e = envs[name]
  if type(e) ~= "table" then
    error(errors.new("ECONFIG", string.format("environment '%s' is not in %s (it defines: %s)",
      tostring(name), config.path or "summit.lua (none was found)", argcheck.known(envs))), 0)
  end
  local r = copy(e)
  r.name = name
  return r
end

-- target(role, s) -> { env, name, k, namespace, app, deployment, url, traffic, route }:
-- where a phase acts. role is "staging", "canary" or "production" (mapped
-- through s.environments), or an environment's name.
function M.target(role, s)
  s = s or M.settings()
  local envname = (s.environments or {})[role] or role
  local e = M.env(envname)
  local k = e.cluster and api.cluster(e.cluster) or api.cluster()
  return { env = e, name = envname, k = k, namespace = e.namespace,
           app = e.app or s.app, deployment = e.deployment or s.deployment or e.app or s.app,
           url = e.url, traffic = e.traffic, route = e.route }
end

-- environments(role, ...) is a runbook's `environment` field for the
-- environments of those roles (defaults.release.environments, with the
-- run's params): environment = release.environments("staging", "production").
function M.environments(...)
  local roles = { ... }
  return function(p)
    local e = M.settings(p).environments
    local list = {}
    for i, role in ipairs(roles) do list[i] = e[role] end
    return list
  end
end

-- For runbooks that act on one environment given as `-p environment=`
-- (a role such as production, or an environment's name) or `--env`
-- (rollback, migration). lock_environment(what) is the runbook's
-- `environment` field: the environment it locks, so it never runs at
-- once with a deploy of it. where(p, what [, s]) -> the environment's
-- name inside run(), and the settings it was read from (s, or
-- settings()); giving both -p environment and --env for different
-- environments fails.
function M.lock_environment(what)
  return function(p, env_name)
    if not p.environment and not env_name then
      error(string.format("give the environment to %s: -p environment=NAME (or --env NAME)", what), 0)
    end
    return p.environment and M.settings().environments[p.environment] or p.environment or env_name
  end
end

function M.where(p, what, s)
  s = s or M.settings()
  local selected = config.env and config.env.name
  local where = p.environment and (s.environments[p.environment] or p.environment) or selected
  if p.environment and selected and where ~= selected then
    api.fail(string.format("%s: -p environment=%s is %s, but --env %s; give one of them, or the same",
      what, p.environment, where, selected))
  end
  return where, s
end

function M.has_command(name)
  local c = cfg().commands
  return type(c) == "table" and c[name] ~= nil
end

-- command(name, args, opts) -> checks.command_from_config's result, or
-- { skipped = true } when the command is not configured and opts.optional.
function M.command(name, args, opts)
  opts = opts or {}
  if not M.has_command(name) then
    if opts.optional then
      api.log.warn("%s: commands.%s is not configured in summit.lua; skipped", opts.what or name, name)
      return { skipped = true, name = name }
    end
  end
  local o = {}
  for k, v in pairs(opts) do if k ~= "optional" and k ~= "what" then o[k] = v end end
  o.args = args
  return checks.command_from_config(name, o)
end

-- notify(event, detail): an audit record `release.EVENT` and a notify()
-- (docs/notifications.md).
function M.notify(event, detail)
  detail = detail or {}
  api.audit.record("release." .. event, detail)
  -- summit.notify: logged, sent to summit.lua's default channel when
  -- notifications are configured, retried, and never failing the run.
  local level = (event:find("rolled_back", 1, true) or event:find("failed", 1, true)) and "warn"
    or "info"
  api.notify("release " .. event .. ": " .. json.encode(detail), { level = level, fields = detail })
end

-- ---- window ----

-- window(role, s): refuses to go on inside a denied window (EWINDOW),
-- unless s.justification is given: then an override gate (roles
-- s.override_roles) must be approved; audited as window.override.
function M.window(role, s)
  s = s or M.settings()
  local envname = (s.environments or {})[role] or role
  local o
  if s.justification and s.justification ~= "" then
    o = { override_gate = "window-override", roles = s.override_roles, justification = s.justification }
  end
  return window.require(envname, o)
end

-- ---- pre-deployment checklist ----

-- The seed's checklist: an item is automatic when summit.lua configures a
-- command that answers it, else acknowledged by a person on the gate
-- `checklist-pre-deployment` (roles s.checklist_roles).
function M.checklist(s)
  local function item(text, command)
    if command and M.has_command(command) then
      return { text, check = { command = command, args = { s.version } } }
    end
    return text
  end
  local items = {
    item("All CI checks pass (tests, lint, security scans)", "ci"),
    item("Code review approved by at least 2 reviewers", "review"),
    "Staging deployment successful and verified (this run deploys and verifies staging first)",
    item("Database migrations tested in staging", "migrations_tested"),
    item("Rollback plan documented", "rollback_plan"),
    item("Feature flags configured", "flags_configured"),
    item("Monitoring dashboards ready", "dashboards"),
    item("On-call team notified", "oncall"),
    { "Deployment window scheduled (outside peak hours)",
      check = function() return (window.check((s.environments or {}).production or "production")) end,
      optional = true },
    item("Stakeholders notified (for major releases)", "stakeholders"),
  }
  return checklist.run("pre-deployment", items, { roles = s.checklist_roles })
end

-- ---- prepare the release (git) ----

local function gopts(s) return { cwd = type(s.git) == "string" and s.git or nil } end

-- prepare(s): clean tree, release branch, version bump, changelog (their
-- changes committed), preflight (test, verify, security scan, build), push. Without s.git the git
-- steps are skipped and the preflight commands still run.
function M.prepare(s)
  local branch = "release/" .. s.version
  return api.step("prepare release " .. s.version, function()
    local g = gopts(s)
    if s.git then
      -- Clean first: the bump commit takes every change in the tree, so
      -- nothing unrelated may be there.
      api.step("clean tree", function() return api.git.require_clean(g) end)
      api.step("release branch " .. branch, function()
        api.git.checkout(s.main, g)
        if s.remote then api.git.pull(s.remote, s.main, g) end
        return api.git.checkout(branch, { cwd = g.cwd, create = true })
      end)
      M.command("version_bump", { s.version }, { optional = true, what = "version bump", cwd = g.cwd })
      M.command("changelog", { s.version }, { optional = true, what = "changelog", cwd = g.cwd })
      api.step("commit " .. s.version, function()
        local st = api.git.status(g)
        if st.clean then return { committed = false } end
        api.git.add(".", g)
        return api.git.commit("Bump version to " .. s.version, g)
      end)
    end
    for _, name in ipairs(s.preflight or {}) do
      M.command(name, { s.version }, { cwd = g.cwd, timeout = s.command_timeout })
    end
    if s.git and s.remote then
      api.step("push " .. branch, function()
        return api.git.push(s.remote, branch, { cwd = g.cwd, set_upstream = true })
      end)
    end
    -- "Create release PR" (gh pr create ...): the team's command, if any.
    if s.git then
      M.command("release_pr", { s.version, branch }, { optional = true, what = "release PR", cwd = g.cwd })
    end
    return { branch = s.git and branch or nil }
  end)
end

-- ---- staging ----

local function image_ref(s) return s.image_ref end

-- deploy_image(t, image, s, tag): set the image and wait; an image that
-- never becomes ready is undone in place (rollout undo) and the error
-- raised. No undo is registered: a later failure leaves the environment
-- on the new version (staging is main).
function M.deploy_image(t, image, s, tag)
  tag = tag or t.name
  local ref = "deployment/" .. t.deployment
  local nso = { namespace = t.namespace }
  local before = api.step(tag .. ": deploy " .. image, function()
    local dep = t.k:get(ref, nso)
    local c = dep.spec.template.spec.containers[1]
    if s.container then
      for _, x in ipairs(dep.spec.template.spec.containers) do if x.name == s.container then c = x end end
    end
    if c.image ~= image then t.k:set_image(ref, c.name, image, nso) end
    return { previous = c.image, container = c.name }
  end)
  local ok, err = pcall(api.step, tag .. ": rollout status", function()
    return t.k:rollout_status(ref, { timeout = s.rollout_timeout, namespace = t.namespace })
  end)
  if not ok then
    api.step(tag .. ": roll back to " .. before.previous, function()
      t.k:set_image(ref, before.container, before.previous, nso)
      return t.k:rollout_status(ref, { timeout = s.rollout_timeout, namespace = t.namespace })
    end)
    error(err, 0)
  end
  return { image = image, previous = before.previous }
end

-- health(t, s): GET env.url .. health_path (when the environment has a url),
-- else the configured command `health`, else skipped (logged).
function M.health(t, s)
  if t.url then
    return checks.http{ name = t.name .. " health", url = t.url .. (s.health_path or ""),
                        retries = 3, interval = "2s" }
  elseif M.has_command("health") then
    return M.command("health", { t.name })
  end
  api.log.warn("%s health: the environment has no url and commands.health is not configured; skipped", t.name)
  return { skipped = true }
end

-- staging(s [, { merge = false }]): merge the release branch into main (git), the deploy that
-- merge triggers, rollout status, smoke and integration tests, health,
-- migration status and the migration lines of the logs.
function M.staging(s, o)
  o = o or {}
  local t = M.target("staging", s)
  return api.step("staging " .. s.version, function()
    if s.git and o.merge ~= false then
      local g = gopts(s)
      api.step("merge release/" .. s.version .. " into " .. s.main, function()
        api.git.checkout(s.main, g)
        local r = api.git.merge("release/" .. s.version, { cwd = g.cwd, ff = false,
          message = "Release " .. s.version })
        if s.remote then api.git.push(s.remote, s.main, g) end
        return r
      end)
    end
    local d = M.deploy_image(t, image_ref(s), s, "staging")
    local items = {}
    for _, name in ipairs(s.staging_tests or {}) do
      if M.has_command(name) then items[#items + 1] = { name, { command = name, args = { t.name } } } end
    end
    if #items > 0 then checks.suite("staging tests", items) end
    M.health(t, s)
    local mig = M.migration_status(t, s)
    return { image = d.image, previous = d.previous, migrations = mig }
  end)
end

-- migration_status(t, s): kubectl exec of s.migration_status (an argv) in
-- the deployment, and the lines of its logs that mention migrations
-- (failing on one that says "error" or "failed").
function M.migration_status(t, s)
  if type(s.migration_status) ~= "table" then
    api.log.info("%s migrations: defaults.release.migration_status is not set; skipped", t.name)
    return { skipped = true }
  end
  return api.step(t.name .. " migration status", function()
    local ref = "deployment/" .. t.deployment
    local r = t.k:exec(ref, s.migration_status, { namespace = t.namespace, container = s.container })
    local logs = t.k:logs(ref, { namespace = t.namespace, tail = 500, grep = "[Mm]igration" }) or ""
    for line in logs:gmatch("[^\n]+") do
      local l = line:lower()
      if l:find("error") or l:find("failed") then
        api.fail(t.name .. ": a migration error in the logs: " .. line)
      end
    end
    return { status = r.stdout, log_lines = select(2, logs:gsub("\n", "\n")) }
  end)
end

-- ---- canary analysis ----

-- metrics_of(s, t): the seed's canary metrics against the stable track.
local function analysis_metrics(s)
  local prod = { vars = { track = "stable" } }
  local function lat(name)
    return { name = name, template = name, baseline = prod, max_increase = s.canary_latency_increase,
             margin = s.canary_latency_margin or 0.005 }
  end
  return {
    { name = "error_rate", template = "error_rate", critical = true, max = s.canary_max_error_rate,
      baseline = prod, max_increase = 0, margin = s.canary_error_margin },
    lat("p50"), lat("p95"), lat("p99"),
    { name = "success_rate", template = "success_rate", min = s.canary_min_success_rate },
    -- database query time, memory and CPU: measured when summit.lua has their templates
    { name = "db_p95", template = "db_p95", baseline = prod, max_increase = s.canary_latency_increase,
      margin = s.canary_db_margin or 0.001, optional = true },
    { name = "memory", template = "memory", baseline = prod, max_increase = s.canary_resource_increase,
      optional = true },
    { name = "cpu", template = "cpu", baseline = prod, max_increase = 0.25, dry_run = true, optional = true },
    -- the canary's share of the requests (percent), watched: what a route's weight gave it
    { name = "traffic", template = "traffic", dry_run = true, optional = true },
  }
end

-- The metric templates summit.lua defines (top level and the environment's).
local function templates(t)
  local have = {}
  local m = cfg().metrics
  for k in pairs(type(m) == "table" and type(m.queries) == "table" and m.queries or {}) do have[k] = true end
  local em = t and t.env and t.env.metrics
  for k in pairs(type(em) == "table" and type(em.queries) == "table" and em.queries or {}) do have[k] = true end
  return have
end

-- The metrics to measure: the required ones always (a missing template is
-- a measurement error, so a wrong config does not pass), the optional ones
-- when their template exists.
local function present(list, t)
  local have, out = templates(t), {}
  for _, x in ipairs(list) do
    if not x.optional then
      out[#out + 1] = x
    elseif have[x.template] then
      local c = {}
      for k, v in pairs(x) do if k ~= "optional" then c[k] = v end end
      out[#out + 1] = c
    end
  end
  return out
end

function M.analyze(s, t, name)
  return canary.analyze{
    name = name or (t.app .. " " .. s.version),
    vars = { namespace = t.namespace, app = t.app, track = "canary" },
    count = s.canary_count, interval = s.canary_interval, initial_delay = s.canary_initial_delay,
    failure_limit = s.canary_failure_limit or 0,
    metrics = present(analysis_metrics(s), t),
  }
end

local function rollout_opts(t, s, extra)
  local o = { name = t.deployment, cluster = t.k, namespace = t.namespace, container = s.container,
              timeout = s.rollout_timeout }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- canary(s): the canary at s.canary_weight % (environment `canary`'s
-- traffic when set) in its namespace, the analysis, and the decision: an
-- inconclusive one asks a human (canary_inconclusive = "ask"); a
-- verdict other than successful aborts the canary (the stable whole
-- again) and fails the run with ECANARY (the run's undo path then
-- restores anything else). Returns the verdict.
function M.canary(s)
  local t = M.target("canary", s)
  local weight = tonumber(t.traffic or s.canary_weight)
  -- With the environment's traffic router (route = { gateway = "httproute/web" },
  -- docs/stdlib/rollout.md), the weight is the route's share of the requests.
  rollout.canary(rollout_opts(t, s, { image = image_ref(s), weight = weight, route = t.route }))
  local v = M.analyze(s, t)
  if v.verdict == "inconclusive" and s.canary_inconclusive == "ask" then
    -- As Argo Rollouts does: an inconclusive analysis pauses for a human.
    -- Approved: the canary goes on; rejected: EREJECTED, and the run's undo
    -- path takes the canary back.
    api.approval.require{
      gate = t.name .. "-inconclusive", roles = s.canary_roles,
      bind = { version = s.version, image = image_ref(s) },
      reason = string.format("canary analysis of %s inconclusive: %s; approve to proceed, reject to roll "
        .. "the canary back", s.version, v.reason),
    }
    M.notify("canary_accepted", { version = s.version, verdict = v.verdict, reason = v.reason })
    return v
  end
  if v.verdict ~= "successful" then
    rollout.abort(rollout_opts(t, s, { route = t.route }))
    M.notify("canary_rolled_back", { version = s.version, verdict = v.verdict, reason = v.reason })
    error(errors.new("ECANARY", string.format("canary analysis %s: %s", v.verdict, v.reason),
      { verdict = v.verdict }), 0)
  end
  api.log.info("canary %s: %s", s.version, v.reason)
  return v
end

-- ---- production ----

function M.approve_production(s, extra)
  local t = M.target("production", s)
  local roles = s.production_roles
  local count = 2
  if type(roles) == "table" and #roles == 0 then
    local n = 0
    for _, x in pairs(roles) do n = n + x end
    if n > count then count = n end
  end
  local o = { gate = t.name, count = count, roles = roles,
              bind = { version = s.version, image = image_ref(s) },
              reason = string.format("deploy %s (%s) to %s with the %s strategy", s.version, image_ref(s),
                t.name, s.strategy) }
  for k, v in pairs(extra or {}) do o[k] = v end
  return api.approval.require(o)
end

-- monitor(s, t, label): between rollout steps: wait s.monitor_wait, then
-- one measurement of the new pods' error rate (canary track) against
-- s.monitor_max_error_rate; a failure raises (the rollout is undone).
function M.monitor(s, t, label, track)
  api.sleep(s.monitor_wait)
  local v = canary.analyze{
    name = label, vars = { namespace = t.namespace, app = t.app, track = track or "canary" },
    count = 1, metrics = {
      { name = "error_rate", template = "error_rate", max = s.monitor_max_error_rate, critical = true },
      { name = "p95", template = "p95", max = s.verify_max_p95 * 2 },
    },
  }
  if v.verdict ~= "successful" then
    error(errors.new("EMONITOR", string.format("%s: %s: %s", label, v.verdict, v.reason),
      { verdict = v.verdict }), 0)
  end
  return v
end

-- production(s): the strategy. blue-green: the canary (if any) given up,
-- the other color deployed and the Service switched, then monitored;
-- progressive: 10 -> 50 -> 100 with monitoring between; canary: 5 -> 25
-- -> 100 the same way; rolling: a plain rolling update (hotfixes). Every
-- change registers its undo: a failure later in the run puts production
-- back as it was.
function M.production(s)
  local t = M.target("production", s)
  local image = image_ref(s)
  local strat = s.strategy
  if strat == "progressive" or strat == "canary" then
    local steps = strat == "progressive" and s.progressive_steps or s.canary_steps
    return rollout.progressive(rollout_opts(t, s, { image = image, steps = steps, route = t.route,
      between = function(w) M.monitor(s, t, string.format("production at %g%%", w)) end }))
  elseif strat == "blue-green" then
    local st = rollout.status{ name = t.deployment, cluster = t.k, namespace = t.namespace }
    if st.canary then rollout.abort(rollout_opts(t, s, { route = t.route })) end
    local r = rollout.blue_green(rollout_opts(t, s, { image = image, service = s.service }))
    M.monitor(s, t, "production " .. r.active, "stable")
    return r
  else
    local r = rollout.rolling(rollout_opts(t, s, { image = image }))
    return r
  end
end

-- ---- verification ----

-- verify(s [, role]) -> { ok, verdict, checks = {...}, metrics = verdict, flags = {...}, failed = {...} }
-- Smoke tests, the critical paths (auth, API, database, graph: configured
-- commands, or critical_urls), error rate and P95 against the thresholds
-- (s.verify_count rounds every s.verify_interval), the feature flags
-- (s.flags: { name = percent } expected in the ConfigMap). Never raises
-- for a failed check: the caller decides.
function M.verify(s, role)
  local t = M.target(role or "production", s)
  return api.step("verify " .. t.name, function()
    local items = {}
    if M.has_command("smoke") then items[#items + 1] = { "smoke", { command = "smoke", args = { t.name } } } end
    for _, name in ipairs(s.critical_paths or {}) do
      if M.has_command(name) then items[#items + 1] = { name, { command = name, args = { t.name } } } end
    end
    for name, url in pairs(s.critical_urls or {}) do
      items[#items + 1] = { name, { url = url:gsub("^/", (t.url or "") .. "/") } }
    end
    table.sort(items, function(a, b) return a[1] < b[1] end)
    local failed, results = {}, {}
    if #items > 0 then
      local ok, r = pcall(checks.suite, "verify " .. t.name, items)
      if ok then results = r.results else
        local e = errors.normalize(r)
        if e.code == "ECANCELED" then error(e, 0) end
        results = e.results or {}
        for _, n in ipairs(e.failed or { e.message }) do failed[#failed + 1] = n end
      end
    end
    local v = canary.analyze{
      name = "verify " .. t.name, vars = { namespace = t.namespace, app = t.app, track = "stable" },
      count = s.verify_count, interval = s.verify_interval,
      metrics = {
        { name = "error_rate", template = "error_rate", max = s.verify_max_error_rate, critical = true },
        { name = "p95", template = "p95", max = s.verify_max_p95 },
      },
    }
    if v.verdict ~= "successful" then failed[#failed + 1] = "metrics (" .. v.verdict .. ": " .. v.reason .. ")" end
    local fl = {}
    if type(s.flags) == "table" and next(s.flags) then
      local have = flags.all({ cluster = t.k, namespace = t.namespace, configmap = s.flags_configmap })
      for name, want in pairs(s.flags) do
        local ok = have[name] == tonumber(want)
        fl[#fl + 1] = { flag = name, want = tonumber(want), have = have[name], ok = ok }
        if not ok then
          failed[#failed + 1] = string.format("flag %s is %s, expected %s", name, tostring(have[name]), want)
        end
      end
      table.sort(fl, function(a, b) return a.flag < b.flag end)
    end
    local ok = #failed == 0
    local r = { ok = ok, verdict = ok and "passed" or "failed", env = t.name, checks = results, flags = fl,
                failed = failed, metrics = { verdict = v.verdict, reason = v.reason } }
    api.audit.record("release.verify", { env = t.name, verdict = r.verdict, failed = failed,
                                         metrics = v.verdict })
    return r
  end)
end

-- ---- finalize ----

-- finalize(s, extra): tag (git), release notes, SBOM, provenance, artifact
-- upload, notification. Provenance of this run is written after it ends
-- (`summit provenance RUN`); here the configured `provenance` command runs
-- if there is one, and the release record names the run.
function M.finalize(s, extra)
  return api.step("finalize " .. s.version, function()
    local g = gopts(s)
    local tag
    if s.git then
      tag = api.step("tag " .. s.version, function()
        if api.git.tag_exists(s.version, g) then return { name = s.version, existed = true } end
        return api.git.tag(s.version, { cwd = g.cwd, message = "Release " .. s.version })
      end)
      if s.remote then
        api.step("push tag " .. s.version, function() return api.git.push(s.remote, s.version, g) end)
      end
    end
    local out = {}
    for _, name in ipairs({ "release_notes", "sbom", "provenance", "upload" }) do
      local r = M.command(name, { s.version }, { optional = true, cwd = g.cwd })
      out[name] = r.skipped and "skipped" or "done"
    end
    local detail = { version = s.version, image = image_ref(s), strategy = s.strategy,
                     tag = tag and tag.name or nil, artifacts = out }
    for k, v in pairs(extra or {}) do detail[k] = v end
    M.notify("released", detail)
    return detail
  end)
end

return M
