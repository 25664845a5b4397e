-- Database backup drill: take a backup with the team's own tool, restore
-- it into a scratch target, check that the restored copy is whole, and
-- time every phase. The timings go into the audit trail (`backup.drill`)
-- and into the ConfigMap `backup-drills` of the environment's namespace,
-- where a dashboard or an alert ("no successful drill for 30 days") can
-- read them. The scratch target is dropped at the end, and also when the
-- drill fails half-way (undo).
--
--   summit run examples/runbooks/backup_drill.lua --env production \
--     -p database=orders -p rto_minutes=30
--
-- Needs in summit.lua, under `commands` (each an argv; summit appends the
-- arguments shown):
--   db_backup  DATABASE                 make a backup; print where it is
--                                       (a path or URL) as the last line
--   db_restore LOCATION TARGET          restore that backup into TARGET
--   db_verify  DATABASE TARGET          exit 0 when TARGET is a good copy
--                                       (integrity check, row counts...)
--   db_drop    TARGET                   remove the scratch target
local checks = require("summit.checks")

-- The last non-empty line of a command's output.
local function last_line(text)
  local last
  for line in (text or ""):gmatch("[^\n]+") do
    if line:match("%S") then last = line:match("^%s*(.-)%s*$") end
  end
  return last
end

return runbook {
  name = "backup_drill", version = "1.0.0",
  description = "Back up a database, restore it into a scratch target, verify it, record the timings",
  params = {
    database = { type = "string", required = true, pattern = "^[%w_%-]+$",
                 description = "the database to back up (passed to the commands)" },
    target = { type = "string", pattern = "^[%w_%-]*$", default = "",
               description = "the scratch target to restore into (default: DATABASE_drill)" },
    rto_minutes = { type = "number", default = 60,
                    description = "the restore must finish within this many minutes (recovery time objective)" },
    timeout = { type = "string", default = "2h",
                description = "the longest any one command may run" },
    keep_target = { type = "boolean", default = false,
                    description = "keep the restored copy for inspection instead of dropping it" },
    configmap = { type = "string", default = "backup-drills",
                  description = "the ConfigMap the results are published in ('' to skip)" },
  },
  run = function(p)
    local target = p.target ~= "" and p.target or (p.database .. "_drill")
    local k = cluster()
    local drill = { database = p.database, target = target, rto_seconds = p.rto_minutes * 60 }

    -- Publishes the outcome for dashboards: DATABASE.last-success or
    -- DATABASE.last-failure, and the timings.
    local function publish(data)
      if p.configmap == "" then return end
      step("publish to configmap/" .. p.configmap, function()
        local ok, err = pcall(k.patch, k, "configmap/" .. p.configmap, { data = data },
                              { type = "merge" })
        if not ok then
          if type(err) ~= "table" or err.code ~= "ENOTFOUND" then error(err, 0) end
          k:create({ apiVersion = "v1", kind = "ConfigMap",
                     metadata = { name = p.configmap, labels = { ["app.kubernetes.io/managed-by"] = "summit" } },
                     data = data })
        end
      end)
    end

    -- A phase: a step that runs a configured command and measures it.
    local function phase(name, command, args, undo)
      return step{ name, function()
        local t0 = now()
        local r = checks.command_from_config(command, { args = args, timeout = p.timeout })
        return { seconds = now() - t0, output = last_line(r.stdout) }
      end, undo = undo }
    end

    local started = now()
    local ok, err = pcall(function()
      local b = phase("backup " .. p.database, "db_backup", { p.database })
      if not b.output then fail("db_backup printed no backup location") end
      drill.backup, drill.backup_seconds = b.output, b.seconds
      log.info("backup of %s at %s (%.1fs)", p.database, b.output, b.seconds)

      local r = phase("restore into " .. target, "db_restore", { b.output, target },
        function() checks.command_from_config("db_drop", { args = { target }, timeout = p.timeout }) end)
      drill.restore_seconds = r.seconds

      local v = phase("verify " .. target, "db_verify", { p.database, target })
      drill.verify_seconds, drill.verified = v.seconds, v.output
      log.info("restore %.1fs, verify %.1fs: %s", r.seconds, v.seconds, v.output or "ok")

      if r.seconds > drill.rto_seconds then
        fail(string.format("the restore took %.0fs, over the recovery time objective of %.0fs",
                           r.seconds, drill.rto_seconds))
      end
      if not p.keep_target then
        step("drop " .. target, function()
          checks.command_from_config("db_drop", { args = { target }, timeout = p.timeout })
        end)
      end
    end)
    drill.total_seconds = now() - started
    drill.ok = ok
    local when = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(now()))
    if not ok then
      drill.error = type(err) == "table" and err.message or tostring(err)
      audit.record("backup.drill", drill)
      -- Publishing must not hide why the drill failed.
      local published, perr = pcall(publish, { [p.database .. ".last-failure"] = when,
                                               [p.database .. ".last-error"] = drill.error:sub(1, 500) })
      if not published then log.warn("could not publish the failure: %s", tostring(perr)) end
      error(err, 0)   -- the run fails; the restore's undo drops the target
    end
    audit.record("backup.drill", drill)
    publish({
      [p.database .. ".last-success"] = when,
      [p.database .. ".backup"] = drill.backup,
      [p.database .. ".backup-seconds"] = string.format("%.1f", drill.backup_seconds),
      [p.database .. ".restore-seconds"] = string.format("%.1f", drill.restore_seconds),
      [p.database .. ".verify-seconds"] = string.format("%.1f", drill.verify_seconds),
    })
    return drill
  end,
}
