-- runbooks/migration.lua, tested with summit test (docs/testing.md). The
-- simulated cluster's scripted `migrate` commands keep each namespace's
-- "database" in its ConfigMap sim-exec (schema, dirty): see summit.lua.
local t = require("summit.test")

local function db(ctx, namespace)
  local cm = ctx:object("configmaps", namespace, "sim-exec")
  return cm and cm.data or {}
end

t.case("a migration runs in staging first, then in production", function(ctx)
  local run = ctx:run("migration", { environment = "production", migration = "042_email_verified",
                                     status_contains = "schema 42" })
  t.eq(run.status, "succeeded", "the run")
  t.eq(db(ctx, "summit-staging").schema, "42", "staging's schema")
  t.eq(db(ctx, "summit-production").schema, "42", "production's schema")
  local web = ctx:object("deployments", "summit-production", "web")
  local env = {}
  for _, e in ipairs(web.spec.template.spec.containers[1].env or {}) do env[e.name] = e.value end
  t.eq(env.MAINTENANCE_MODE, "false", "maintenance mode is off again")
  t.eq(run:entry("backup_database").state, "completed", "the backup was taken")
end)

t.case("a migration that fails in staging leaves production alone", function(ctx)
  local run = ctx:run("migration", { environment = "production", migration = "042_email_verified" }, {
    scenario = { configmaps = { { name = "sim-exec", namespace = "summit-staging", data = { ["break"] = "true" } } } },
  })
  t.eq(run.status, "failed", "the run")
  t.eq(run:entry("staging (staging): run migrations").state, "failed", "staging's migration")
  t.eq(db(ctx, "summit-production").schema, nil, "production was never migrated")
end)

-- The journal record number, in a probe run, of the first record with
-- this name and state.
local function record_of(ctx, name, state)
  local probe = ctx:run("migration", { environment = "production", migration = "042_email_verified" })
  t.eq(probe.status, "succeeded", "the probe run")
  for i, r in ipairs(probe:journal()) do
    if r.name == name and r.state == state then return i end
  end
  t.fail("no record " .. name .. " " .. state)
end

t.case("killed right after production's migration ran: resumed, never run twice", function(ctx)
  local n = record_of(ctx, "run migrations", "completed")
  local c = ctx:fresh()
  local run = c:run("migration", { environment = "production", migration = "042_email_verified" },
                    { kill_at = n - 1 })   -- the exec inside it completed, the step not yet
  t.eq(run.status, "killed", "the run was killed")
  run:resume()
  t.eq(run.status, "succeeded", "the resumed run")
  t.eq(db(c, "summit-production").schema, "42", "production's schema")
end)

t.case("killed while the migration ran: the resume asks a human, --skip goes on", function(ctx)
  local n = record_of(ctx, "run migrations", "started")
  local c = ctx:fresh()
  local run = c:run("migration", { environment = "production", migration = "042_email_verified" },
                    { kill_at = n + 1 })   -- the exec started, no outcome recorded
  t.eq(run.status, "killed", "the run was killed")
  run:resume()
  t.eq(run.status, "needs_attention", "a migration (idempotent = false) is not run again blindly")
  run:resume{ skip = true }
  t.eq(run.status, "succeeded", "skipped by a human who checked the database")
end)
