-- migration: a database migration deployment (docs/runbooks/migration.md),
-- the seed procedure's "Database Migration Deployments":
--
--   summit run migration --env production -p migration=v4.0.5 \
--     -p rollback_command="npx tsx scripts/rollback-migration.ts"
--
--   1. backup                 commands.backup_database --reason pre-migration-<migration>
--   2. staging first          the migration and its status check in the staging namespace
--   3. maintenance on         MAINTENANCE_MODE=true on the deployment (set env), rolled out
--   4. run migrations         exec in the deployment (never run twice: idempotent = false)
--   5. verify                 the status command in the deployment, commands.verify_data_integrity
--   6. maintenance off        MAINTENANCE_MODE=false, rolled out
--
-- All of it holds the lock "db-migrations": two migrations never overlap.
--
-- On a failure the run's undo path, newest first: the rollback migration
-- (exec in the deployment), the backup restored (only with
-- restore_backup=true), maintenance off. The run ends rolled_back.
-- A migration marked irreversible has no rollback migration: when it fails,
-- the run pauses at the approval gate "migration-repair" for a human who
-- repairs the database; approving re-runs the verification and finishes;
-- rejecting takes the undo path without a rollback migration.
local checks = require("summit.checks")

-- "npx tsx scripts/run-migrations.ts" -> { "npx", "tsx", ... }; a JSON
-- list ('["sh", "-c", "a b"]') for arguments with spaces.
local function argv_of(what, s)
  if s:match("^%s*%[") then
    local ok, v = pcall(json.decode, s)
    if not ok or type(v) ~= "table" or #v == 0 then
      fail(string.format("migration: -p %s is not a JSON list of strings: %s", what, s))
    end
    return v
  end
  local out = {}
  for w in s:gmatch("%S+") do out[#out + 1] = w end
  if #out == 0 then fail(string.format("migration: -p %s is empty", what)) end
  return out
end

return runbook {
  name = "migration",
  version = "1.0.0",
  description = "Database migration: backup, staging first, maintenance mode, migrate, verify; "
    .. "rolled back on failure",
  params = {
    environment = { type = "string",
                    description = "the environment (default: --env; if given, it must be the --env one)" },
    migration = { type = "string", required = true, pattern = "^[%w][%w%._%-]*$",
                  description = "the migration's name or version (v4.0.5): labels the backup and the audit" },
    deployment = { type = "string",
                   description = "the Deployment to exec in; default: summit.lua's environment deployment, else web" },
    container = { type = "string", description = "its container (default: the first)" },
    migrate_command = { type = "string", default = "npx tsx scripts/run-migrations.ts",
                        description = "runs the migrations, in the deployment" },
    status_command = { type = "string", default = "npx tsx scripts/migration-status.ts",
                       description = "says the migration status, in the deployment; must exit 0" },
    status_contains = { type = "string", default = "",
                        description = "text the status must print once migrated (e.g. the migration's name)" },
    rollback_command = { type = "string", default = "",
                         description = "the rollback migration, in the deployment (required unless irreversible)" },
    irreversible = { type = "boolean", default = false,
                     description = "no rollback migration: a failure pauses for a human (gate migration-repair)" },
    backup = { type = "string", default = "backup_database",
               description = "summit.lua command that backs the database up (gets --reason LABEL)" },
    restore_backup = { type = "boolean", default = false,
                       description = "on failure, restore the backup after the rollback migration" },
    restore = { type = "string", default = "restore_database",
                description = "summit.lua command that restores a backup (gets --backup LABEL)" },
    integrity_check = { type = "string", default = "verify_data_integrity",
                        description = "summit.lua command that checks the data (gets --environment NAME); "
                          .. "empty: none" },
    staging_namespace = { type = "string", default = "summit-staging",
                          description = "where the migration is tried first (same cluster); empty: skip" },
    maintenance = { type = "boolean", default = true, description = "maintenance mode while migrating" },
    maintenance_var = { type = "string", default = "MAINTENANCE_MODE", pattern = "^[%a_][%w_]*$",
                        description = "the environment variable that turns it on" },
    lock_timeout = { type = "string", default = "1h",
                     description = "how long to wait for another migration holding db-migrations" },
    timeout = { type = "string", default = "10m", description = "for each rollout (maintenance on/off)" },
  },
  -- A migration and a deploy of the same environment never run at once.
  environment = true,

  run = function(p)
    local where = env.name
    if p.environment and p.environment ~= where then
      fail(string.format("migration: -p environment=%s but --env %s; give the same environment to both",
        p.environment, where))
    end
    if p.rollback_command == "" and not p.irreversible then
      fail(string.format("migration %s has no rollback migration: give -p rollback_command='...' "
        .. "(the command that reverts it), or mark it -p irreversible=true (a failure then pauses "
        .. "for a human instead of rolling back)", p.migration))
    end
    local migrate = argv_of("migrate_command", p.migrate_command)
    local status = argv_of("status_command", p.status_command)
    local revert = p.rollback_command ~= "" and argv_of("rollback_command", p.rollback_command) or nil
    local name = p.deployment or env.deployment or "web"
    local ref = "deployment/" .. name
    local k = cluster()
    local label = "pre-migration-" .. p.migration
    local var = p.maintenance_var

    local function exec_in(argv, namespace)
      return k:exec(ref, argv, { container = p.container, namespace = namespace })
    end
    local function set_maintenance(on)
      k:set_env(ref, { [var] = on and "true" or "false" }, { container = p.container })
      return k:rollout_status(ref, { timeout = p.timeout })
    end
    local function status_check(tag, namespace)
      return step(tag .. "migration status", function()
        local r = exec_in(status, namespace)
        if p.status_contains ~= "" and not r.stdout:find(p.status_contains, 1, true) then
          fail(string.format("the migration status does not say '%s': %s", p.status_contains,
            r.stdout:sub(1, 300)))
        end
        return r.stdout
      end)
    end
    local function verify(tag)
      status_check(tag)
      if p.integrity_check ~= "" then
        checks.command_from_config(p.integrity_check, { args = { "--environment", where } })
      end
    end

    return lock("db-migrations", function()
      -- 1. Backup.
      checks.command_from_config(p.backup, { args = { "--reason", label } })

      -- 2. Staging first (unless this is staging).
      local staging = p.staging_namespace
      if staging ~= "" and staging ~= env.namespace then
        step{ "staging: run migrations", function()
          return exec_in(migrate, staging).stdout
        end, idempotent = false }
        status_check("staging: ", staging)
      end

      -- 3. Maintenance on; its undo turns it off (last of the undo path).
      if p.maintenance then
        step{ "maintenance on", function() return set_maintenance(true) end,
          undo = function() return set_maintenance(false) end }
      end

      -- The undo path, newest first: rollback migration, restore, maintenance off.
      if p.restore_backup then
        step{ "restore point " .. label, function() return { backup = label } end,
          undo = function()
            return lock("db-migrations", function()
              return checks.command_from_config(p.restore, { args = { "--backup", label } })
            end, { timeout = p.lock_timeout })
          end }
      end
      step{ "rollback migration ready", function()
        return { command = revert, irreversible = p.irreversible }
      end, undo = function()
        if p.irreversible then
          log.warn("migration %s is irreversible: no rollback migration is run", p.migration)
          audit.record("migration.rollback_skipped", { migration = p.migration, environment = where,
            reason = "irreversible" })
          return
        end
        return lock("db-migrations", function()
          return exec_in(revert).stdout
        end, { timeout = p.lock_timeout })
      end }

      -- 4 and 5. Migrate, verify.
      local ok, err = pcall(function()
        step{ "run migrations", function() return exec_in(migrate).stdout end, idempotent = false }
        verify("")
      end)
      if not ok then
        if not p.irreversible then error(err, 0) end
        -- No automatic rollback: a human repairs, then decides.
        local why = type(err) == "table" and tostring(err.message) or tostring(err)
        log.error("irreversible migration %s failed: %s", p.migration, why)
        audit.record("migration.failed", { migration = p.migration, environment = where,
          irreversible = true, error = why })
        notify(string.format("irreversible migration %s failed in %s and waits for a repair "
          .. "(gate migration-repair): %s", p.migration, where, why:sub(1, 200)), { level = "error" })
        approval.require{
          gate = "migration-repair", allow_self = true,
          bind = { migration = p.migration, environment = where },
          reason = string.format("irreversible migration %s failed in %s (%s). Repair the database, "
            .. "then approve to verify again and finish, or reject to leave maintenance mode without "
            .. "a rollback migration", p.migration, where, why:sub(1, 200)),
        }
        verify("after repair: ")
      end

      -- 6. Maintenance off.
      if p.maintenance then
        step("maintenance off", function() return set_maintenance(false) end)
      end
      local result = { migration = p.migration, environment = where, deployment = name,
                       backup = label, irreversible = p.irreversible, repaired = not ok or nil }
      audit.record("migration", result)
      notify(string.format("migration %s applied in %s%s", p.migration, where,
        ok and "" or " (after a repair)"), { fields = result })
      return result
    end, { timeout = p.lock_timeout })
  end,
}
