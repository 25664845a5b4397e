-- migration: a database migration deployment (docs/runbooks/migration.md),
-- the seed procedure's "Database Migration Deployments":
--
--   summit run migration -p environment=production -p migration=v4.0.5 \
--     -p rollback_command="npx tsx scripts/rollback-migration.ts"
--
--   1. backup                 commands.backup_database --reason pre-migration-<migration>
--   2. staging first          the migration and its status check in the staging environment
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
local release = require("summit.release")

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
                    description = "the environment (or --env; a role of defaults.release.environments such as "
                      .. "production maps to its environment)" },
    migration = { type = "string", required = true, pattern = "^[%w][%w%._%-]*$",
                  description = "the migration's name or version (v4.0.5): labels the backup and the audit" },
    deployment = { type = "string",
                   description = "the Deployment to exec in; default: the environment's deployment or app, "
                     .. "else defaults.release.app, else web" },
    container = { type = "string", description = "its container (default: the first)" },
    migrate_command = { type = "string",
                        description = "runs the migrations, in the deployment (default: defaults.release."
                          .. "migrate_command, else npx tsx scripts/run-migrations.ts)" },
    status_command = { type = "string",
                       description = "says the migration status, in the deployment; must exit 0 (default: "
                         .. "defaults.release.migration_status, else npx tsx scripts/migration-status.ts)" },
    status_contains = { type = "string", default = "",
                        description = "text the status must print once migrated (e.g. the migration's name)" },
    rollback_command = { type = "string",
                         description = "the rollback migration, in the deployment (default: defaults.release."
                           .. "rollback_command; one is required unless irreversible)" },
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
    staging = { type = "string",
                description = "the environment where the migration is tried first (default: the staging role of "
                  .. "defaults.release.environments, i.e. staging); empty: skip" },
    maintenance = { type = "boolean", default = true, description = "maintenance mode while migrating" },
    maintenance_var = { type = "string", default = "MAINTENANCE_MODE", pattern = "^[%a_][%w_]*$",
                        description = "the environment variable that turns it on" },
    lock_timeout = { type = "string", default = "1h",
                     description = "how long to wait for another migration holding db-migrations" },
    timeout = { type = "string", default = "10m", description = "for each rollout (maintenance on/off)" },
  },
  -- A migration and a deploy of the same environment never run at once.
  environment = release.lock_environment("migrate"),

  run = function(p)
    -- Where, as the deploy runbook finds it (summit.release): summit.lua's
    -- environment (cluster, namespace, deployment), and the team's
    -- defaults.release (the commands in the deployment).
    local where, s = release.where(p, "migration")
    local function command(param, team, builtin)
      if p[param] and p[param] ~= "" then return argv_of(param, p[param]) end
      if type(s[team]) == "table" and #s[team] > 0 then return s[team] end
      return builtin and argv_of(param, builtin) or nil
    end
    local migrate = command("migrate_command", "migrate_command", "npx tsx scripts/run-migrations.ts")
    local status = command("status_command", "migration_status", "npx tsx scripts/migration-status.ts")
    local revert = command("rollback_command", "rollback_command")
    if not revert and not p.irreversible then
      fail(string.format("migration %s has no rollback migration: give -p rollback_command='...' "
        .. "(the command that reverts it; or defaults.release.rollback_command in summit.lua), or mark "
        .. "it -p irreversible=true (a failure then pauses for a human instead of rolling back)", p.migration))
    end
    -- Every summit.lua command it may need, before anything is done.
    local needed = { p.backup }
    if p.restore_backup then needed[#needed + 1] = p.restore end
    if p.integrity_check ~= "" then needed[#needed + 1] = p.integrity_check end
    for _, c in ipairs(needed) do
      if not release.has_command(c) then
        fail(string.format("migration: summit.lua's commands do not define '%s' (see docs/runbooks/"
          .. "migration.md#configuration)", c))
      end
    end
    local t = release.target(where, s)
    local staging
    local sname = p.staging == nil and s.environments.staging or p.staging
    if sname ~= nil and sname ~= "" then
      staging = release.target(sname, s)
      if staging.name == t.name then staging = nil end   -- this is staging
    end
    if not staging then
      log.warn("migration %s: not tried in a staging environment first (%s)", p.migration,
        sname == "" and "-p staging= is empty" or sname == nil and "no staging role in defaults.release.environments"
          or ("this is " .. tostring(sname)))
    end
    local name = p.deployment or t.deployment
    local label = "pre-migration-" .. p.migration
    local var = p.maintenance_var

    -- tt: the target (production, or staging); default the environment's.
    local function exec_in(argv, tt)
      tt = tt or t
      return tt.k:exec("deployment/" .. (p.deployment or tt.deployment), argv,
        { container = p.container, namespace = tt.namespace })
    end
    local ref = "deployment/" .. name
    local function set_maintenance(on)
      t.k:set_env(ref, { [var] = on and "true" or "false" }, { container = p.container, namespace = t.namespace })
      return t.k:rollout_status(ref, { timeout = p.timeout, namespace = t.namespace })
    end
    local function status_check(tag, tt)
      return step(tag .. "migration status", function()
        local r = exec_in(status, tt)
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
      if staging then
        step{ "staging (" .. staging.name .. "): run migrations", function()
          return exec_in(migrate, staging).stdout
        end, idempotent = false }
        status_check("staging (" .. staging.name .. "): ", staging)
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
