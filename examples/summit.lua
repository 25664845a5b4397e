-- The demo's configuration (make demo): the platform team's environments on
-- summit's simulated Kubernetes cluster, so every shipped runbook runs end to
-- end with no cluster at all. Copy it and change what your team has:
-- examples/real-cluster/ shows the same for a real cluster with Prometheus.
--
--   cd examples && summit run deploy -p version=v4.0.5 --time-scale 600
--
-- The runbooks read `defaults.release` (docs/runbooks/deploy.md) and the
-- `commands` below; the seed's thresholds are the runbooks' own defaults.

-- Metrics: the labels the simulated cluster puts on its series
-- (docs/sim.md#series); for Prometheus, the same templates with your labels.
local sel = 'namespace="{{namespace}}",app="{{app}}",track="{{track}}"'
local function quantile(q)
  return 'histogram_quantile(' .. q .. ', sum by (le) (rate(http_request_duration_seconds_bucket{'
    .. sel .. '}[1m])))'
end

-- Small real commands standing in for the team's scripts (make smoke,
-- scripts/verify/check-auth.sh, generate-sbom.ts, ...). Each gets the
-- version or the environment's name as its last argument.
local function say(text) return { "python3", "-c", "import sys; print(" .. string.format("%q", text)
  .. " + ' ' + ' '.join(sys.argv[1:]))" } end

return {
  runbooks = { "../runbooks", "runbooks" },
  -- the team's own Lua: require("team.steps") loads lib/team/steps.lua
  -- (docs/authoring.md "Team modules")
  modules = { "lib" },

  environments = {
    development = { cluster = "sim", namespace = "summit-dev", app = "web" },
    staging     = { cluster = "sim", namespace = "summit-staging", app = "web",
                    windows = { allow = {} } },     -- any time; freezes still apply
    -- The canary's 5% is a share of the requests: the weights of the
    -- Gateway API HTTPRoute web, between the Services web-stable and
    -- web-canary that summit.rollout manages (docs/stdlib/rollout.md).
    canary      = { cluster = "sim", namespace = "summit-production", app = "web", traffic = 5,
                    route = { gateway = "httproute/web" },
                    approval = { count = 1, roles = { "platform-lead" } } },
    production  = { cluster = "sim", namespace = "summit-production", app = "web",
                    route = { gateway = "httproute/web" },
                    approval = { count = 2, distinct = true, allow_self = false } },
  },

  clusters = {
    sim = { sim = true, scenario = {
      rollout_seconds_per_pod = 10,
      bad_images = { "registry/web:broken*", "registry/web:*-broken" },
      namespaces = { "summit-dev", "summit-staging", "summit-production" },
      deployments = {
        { name = "web", namespace = "summit-dev", image = "registry/web:v4.0.4", replicas = 1 },
        { name = "web", namespace = "summit-staging", image = "registry/web:v1.0.0", replicas = 3 },
        -- 20 replicas: a 5% canary is exactly 1 pod of 20
        { name = "web", namespace = "summit-production", image = "registry/web:v1.0.0", replicas = 20 },
      },
      services = {
        { name = "web", namespace = "summit-production", selector = { app = "web" }, port = 80 },
      },
      configmaps = {
        { name = "feature-flags", namespace = "summit-production", data = { ["new-checkout"] = "100" } },
      },
      -- The route production's requests come through; the sim sends its
      -- traffic by these weights (docs/sim.md#traffic-through-routes).
      objects = {
        { apiVersion = "gateway.networking.k8s.io/v1", kind = "HTTPRoute",
          metadata = { name = "web", namespace = "summit-production" },
          spec = { parentRefs = { { name = "gateway" } }, hostnames = { "web.example.com" },
                   rules = { { backendRefs = { { name = "web-stable", port = 80 } } } } } },
      },
      exec = {
        { match = { "npx", "tsx", "scripts/migration-status.ts" }, stdout = "migrations: up to date (42 applied)\n" },
      },
      logs = { ["registry/web:*"] = { "level=info msg=\"migration 42 already applied\"" } },
      metrics = {
        requests_per_second = 50, variation = 0.05,
        -- an image whose canary answers 3% of requests with 500
        images = { ["registry/web:*-errors"] = { error_rate = 0.03 } },
      },
    } },
  },

  metrics = {
    cluster = "sim",
    queries = {
      error_rate = 'sum(rate(http_requests_total{' .. sel .. ',code=~"5.."}[1m]))'
        .. ' / sum(rate(http_requests_total{' .. sel .. '}[1m]))',
      success_rate = 'sum(rate(http_requests_total{' .. sel .. ',code!~"5.."}[1m]))'
        .. ' / sum(rate(http_requests_total{' .. sel .. '}[1m])) * 100',
      p50 = quantile(0.50), p95 = quantile(0.95), p99 = quantile(0.99),
      db_p95 = 'histogram_quantile(0.95, sum by (le) (rate(db_query_duration_seconds_bucket{'
        .. sel .. '}[1m])))',
      cpu = 'avg(rate(container_cpu_usage_seconds_total{' .. sel .. '}[1m]))',
      memory = 'max(container_memory_working_set_bytes{' .. sel .. '})',
      -- the canary's share of the app's requests, in percent (watched)
      traffic = 'sum(rate(http_requests_total{' .. sel .. '}[1m])) * 100'
        .. ' / sum(rate(http_requests_total{namespace="{{namespace}}",app="{{app}}"}[1m]))',
    },
  },

  -- who holds which role for the approval gates
  approvers = {
    alice = { "platform-lead" },
    bob   = { "senior-engineer" },
    carol = { "senior-engineer", "sre" },
    dave  = { "cto", "senior-engineer" },
  },

  commands = {
    ci             = say("CI: all checks green for"),
    test           = say("412 tests passed for"),
    verify         = say("verification suite passed for"),
    security_scan  = say("security scan: 0 critical, 0 high findings in"),
    build          = say("built artifacts for"),
    smoke          = say("smoke tests passed in"),
    integration    = say("integration tests passed in"),
    health         = say("GET /api/health: 200 OK from"),
    check_auth     = say("auth: login and token refresh OK in"),
    check_api      = say("API: /api/health 200 in"),
    check_database = say("database: connections healthy in"),
    check_graph    = say("graph: queries answer in"),
    sbom           = say("SBOM (CycloneDX) written for"),
    release_notes  = say("release notes drafted for"),
    upload         = say("artifacts uploaded for"),
  },

  windows = {
    timezone = "UTC",
    deny = {
      { from = "2026-12-20", to = "2027-01-04", reason = "year-end freeze", name = "year-end" },
    },
  },

  defaults = {
    release = {
      app = "web",
      image = "registry/web:{{version}}",
      migration_status = { "npx", "tsx", "scripts/migration-status.ts" },
      flags = { ["new-checkout"] = 100 },
    },
  },
}
