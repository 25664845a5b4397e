-- The project `summit test` runs the shipped runbooks' tests in
-- (docs/testing.md): the platform team's environments of
-- examples/summit.lua on an in-process simulated cluster, with commands
-- that only say what they would do, so a case is seconds of work however
-- many hours of rollouts, canary rounds and verification it simulates.
-- A team testing its own runbooks keeps a summit.lua like this one beside
-- its tests: the same environment and cluster names as its real one, the
-- clusters simulated.
local sel = 'namespace="{{namespace}}",app="{{app}}",track="{{track}}"'
local function quantile(q)
  return 'histogram_quantile(' .. q .. ', sum by (le) (rate(http_request_duration_seconds_bucket{'
    .. sel .. '}[1m])))'
end
local function rate(codes) return 'sum(rate(http_requests_total{' .. sel .. codes .. '}[1m]))' end
-- A command that prints its name and arguments (echo, not a shell).
local function say(name) return { "echo", name } end

return {
  runbooks = { ".." },

  environments = {
    staging    = { cluster = "sim", namespace = "summit-staging", app = "web", windows = { allow = {} } },
    canary     = { cluster = "sim", namespace = "summit-production", app = "web", traffic = 5,
                   approval = { count = 1, roles = { "platform-lead" } } },
    production = { cluster = "sim", namespace = "summit-production", app = "web",
                   approval = { count = 2, distinct = true, allow_self = false } },
  },

  clusters = {
    sim = { sim = true, scenario = {
      rollout_seconds_per_pod = 10,
      bad_images = { "registry/web:*-broken" },
      namespaces = { "summit-staging", "summit-production" },
      deployments = {
        { name = "web", namespace = "summit-staging", image = "registry/web:v1.0.0", replicas = 3 },
        { name = "web", namespace = "summit-production", image = "registry/web:v1.0.0", replicas = 20 },
      },
      services = {
        { name = "web", namespace = "summit-production", selector = { app = "web" }, port = 80 },
      },
      configmaps = {
        { name = "feature-flags", namespace = "summit-production", data = { ["new-checkout"] = "100" } },
      },
      -- The "database" of the migration runbook: cm/sim-exec of each namespace.
      exec = {
        { match = { "migrate", "up" }, when = { ["break"] = "true" }, set = { schema = "42", dirty = "true" },
          stderr = "ERROR: column users.email_verified already exists\n", exit_code = 1 },
        { match = { "migrate", "up" }, set = { schema = "42" }, stdout = "applied 042_email_verified\n" },
        { match = { "migrate", "down" }, set = { schema = "41", dirty = false }, stdout = "reverted 042\n" },
        { match = { "migrate", "status" }, when = { dirty = "true" }, stdout = "schema 42 (dirty)\n", exit_code = 1 },
        { match = { "migrate", "status" }, when = { schema = "42" }, stdout = "schema 42\n" },
        { match = { "migrate", "status" }, stdout = "schema 41\n" },
      },
      logs = { ["registry/web:*"] = { "level=info msg=\"migration 42 already applied\"" } },
      metrics = { requests_per_second = 50, variation = 0 },
    } },
  },

  -- The metrics the canary and verification need (the optional db_p95,
  -- memory and cpu are left out: they are measured only when configured).
  metrics = {
    cluster = "sim",
    queries = {
      error_rate = rate(',code=~"5.."') .. ' / ' .. rate(''),
      success_rate = rate(',code!~"5.."') .. ' / ' .. rate('') .. ' * 100',
      p50 = quantile(0.50), p95 = quantile(0.95), p99 = quantile(0.99),
    },
  },

  approvers = {
    alice = { "platform-lead" },
    bob   = { "senior-engineer" },
    carol = { "senior-engineer", "sre" },
  },

  commands = {
    ci = say("ci"), test = say("test"), verify = say("verify"), security_scan = say("security_scan"),
    build = say("build"), smoke = say("smoke"), integration = say("integration"), health = say("health"),
    check_auth = say("check_auth"), check_api = say("check_api"), check_database = say("check_database"),
    check_graph = say("check_graph"), sbom = say("sbom"), release_notes = say("release_notes"),
    upload = say("upload"), backup_database = say("backup_database"),
    restore_database = say("restore_database"), verify_data_integrity = say("verify_data_integrity"),
  },

  defaults = {
    release = {
      app = "web",
      image = "registry/web:{{version}}",
      migration_status = { "migrate", "status" },
      migrate_command = { "migrate", "up" },
      rollback_command = { "migrate", "down" },
    },
  },
}
