-- Secret rotation: issue a new credential (a password, an API key, a
-- certificate and its key) with the team's own tool, store it as a new,
-- versioned Secret, point the deployment at it (which rolls its pods),
-- check that the application works with it, keep the old Secret for a
-- grace period in case something still needs it, then delete the old one.
--
-- Until the old Secret is deleted, a failure undoes everything: the
-- deployment goes back to the old Secret (and rolls again), the new
-- Secret is deleted. The run ends `rolled_back` and the old credential is
-- still the one in use.
--
--   summit run examples/runbooks/rotate_secret.lua --env production \
--     -p secret=web-db -p deployment=web -p grace=1h
--
-- The deployment mounts the Secret as a volume (`volumes[].secret.
-- secretName`); the volume's name is the `volume` param. Secrets are named
-- SECRET-YYYYMMDDHHMMSS, so each rotation makes a new object and the pods
-- of both revisions find the Secret they were started with.
--
-- Needs in summit.lua, under `commands`:
--   issue_secret  SECRET      print the new Secret's data as one JSON
--                             object, e.g. {"password": "..."} or
--                             {"tls.crt": "...", "tls.key": "..."}
--   verify_secret SECRET NEW  exit 0 when the application works with the
--                             new credential (log in, call an API, check
--                             the served certificate)
--
-- The new credential never reaches the state database: issue_secret runs
-- with secret_output (the journal keeps a hash of what it printed, and a
-- resumed run that needs it again issues a new one), and the journal
-- keeps a Secret's data masked (docs/secrets.md).
local checks = require("summit.checks")

return runbook {
  name = "rotate_secret", version = "1.0.0",
  description = "Rotate a Secret: issue, roll the deployment onto it, verify, retire the old one",
  environment = true,   -- nobody deploys this environment while its Secret changes
  params = {
    secret = { type = "string", required = true, pattern = "^[a-z0-9][a-z0-9%-]*$",
               description = "the Secret's base name (the versions are SECRET-TIMESTAMP)" },
    deployment = { type = "string", default = "web",
                   description = "the deployment that mounts the Secret" },
    volume = { type = "string", default = "",
               description = "the name of the pod template volume holding the Secret (default: the secret param)" },
    type = { type = "string", default = "Opaque",
             description = "the new Secret's type (Opaque, kubernetes.io/tls, ...)" },
    grace = { type = "string", default = "1h",
              description = "how long the old Secret is kept after the switch, for a rollback" },
    rollout_timeout = { type = "string", default = "10m",
                        description = "how long the deployment may take to roll" },
  },
  run = function(p)
    local k = cluster()
    local ref = "deployment/" .. p.deployment
    local volume = p.volume ~= "" and p.volume or p.secret

    -- Which Secret the deployment uses now, and where in the template.
    local cur = step("current secret", function()
      local d = k:get(ref)
      for i, v in ipairs(d.spec.template.spec.volumes or {}) do
        if v.name == volume then
          if not (v.secret and v.secret.secretName) then
            fail(string.format("%s: volume '%s' is not a Secret volume", ref, volume))
          end
          local md = d.spec.template.metadata
          return { name = v.secret.secretName, index = i - 1,
                   annotations = md ~= nil and md.annotations ~= nil }
        end
      end
      fail(string.format("%s has no volume named '%s' (set -p volume=)", ref, volume))
    end)
    local path = string.format("/spec/template/spec/volumes/%d/secret/secretName", cur.index)
    local new = p.secret .. "-" .. os.date("!%Y%m%d%H%M%S", math.floor(now()))
    if new == cur.name then fail("the Secret " .. new .. " is in use already: rotate again in a second") end
    log.info("%s uses %s; rotating to %s", ref, cur.name, new)

    step{ "create secret/" .. new, function()
      local r = checks.command_from_config("issue_secret", { args = { p.secret },
                                                             secret_output = true })
      local ok, data = pcall(json.decode, r.stdout)
      if not ok or type(data) ~= "table" or next(data) == nil then
        fail("issue_secret did not print a JSON object of the new Secret's data")
      end
      local obj = { apiVersion = "v1", kind = "Secret", type = p.type,
                    metadata = { name = new, labels = {
                      ["app.kubernetes.io/managed-by"] = "summit",
                      ["summit.dev/rotation-of"] = p.secret } },
                    stringData = data }
      local created, err = pcall(k.create, k, obj)
      if not created then
        -- A run killed while creating it, resumed: the name is this run's
        -- (its time is journaled), so the Secret is ours; write the data.
        if type(err) ~= "table" or err.code ~= "EALREADYEXISTS" then error(err, 0) end
        k:patch("secret/" .. new, { stringData = data }, { type = "merge" })
      end
      return { name = new }   -- not the data: step results are kept in the journal
    end, undo = function()
      k:delete("secret/" .. new)
    end }

    -- One JSON patch (one new revision): a test, refused with nothing
    -- changed if someone else switched the Secret meanwhile; the new name;
    -- an annotation on the pod template saying which Secret it runs with.
    local annotation = "summit.dev/secret-" .. volume
    local function switch(from, to)
      local ann = { op = "add", path = "/spec/template/metadata/annotations/"
        .. annotation:gsub("~", "~0"):gsub("/", "~1"), value = to }
      if not cur.annotations then
        ann = { op = "add", path = "/spec/template/metadata/annotations", value = { [annotation] = to } }
      end
      k:patch(ref, {
        { op = "test", path = path, value = from },
        { op = "replace", path = path, value = to },
        ann,
      }, { type = "json" })
      return k:rollout_status(ref, { timeout = p.rollout_timeout })
    end
    step{ "switch " .. ref .. " to " .. new, function()
      return switch(cur.name, new)
    end, undo = function()
      log.warn("switching %s back to %s", ref, cur.name)
      switch(new, cur.name)
    end }

    checks.command_from_config("verify_secret", { args = { p.secret, new }, retries = 2, interval = "10s" })

    -- The grace period: pods, jobs or people that still hold the old
    -- credential have this long; then the application is checked again.
    sleep(p.grace)
    step("still healthy after " .. p.grace, function()
      return k:rollout_status(ref, { timeout = p.rollout_timeout })
    end)
    checks.command_from_config("verify_secret", { args = { p.secret, new }, name = "verify again" })

    step("delete old secret/" .. cur.name, function()
      local ok, err = pcall(k.delete, k, "secret/" .. cur.name)
      if not ok and not (type(err) == "table" and err.code == "ENOTFOUND") then error(err, 0) end
    end)
    -- (not `secret =`: the audit masks keys that look like credentials)
    audit.record("secret.rotated", { name = p.secret, deployment = p.deployment,
                                     old = cur.name, new = new, grace = p.grace })
    return { old = cur.name, new = new }
  end,
}
