-- rollback: put back what ran before (docs/runbooks/rollback.md).
--
--   summit run rollback -p environment=production                  -- the previous revision
--   summit run rollback -p environment=production -p revision=3    -- ReplicaSet revision 3
--   summit run rollback --env production -p revision=v4.0.4        -- the revision running that tag
--
-- Fast on purpose: no checklist, no window, no approval gate. Everything it
-- does is in the run's journal and audit trail, and one `rollback` audit
-- record (and a notification) says what was rolled back, from what, to
-- what, and why.
--
-- What runs now decides how (summit.rollout's status):
--   * a Service that selects a color (blue-green): switch it back to the
--     other color, which a blue-green deploy leaves running;
--   * otherwise: undo the Deployment to a ReplicaSet revision, as
--     `kubectl rollout undo [--to-revision N]` does, and wait for it;
--   * a canary Deployment next to it is removed first (rollout.abort); with
--     revision "previous" that is the whole rollback (the stable stays).
-- Then it verifies (the rollout is complete, the configured checks pass)
-- and records. A failed verification leaves the rollback in place: the run
-- fails and can be resumed to check again; it never rolls back a rollback.
local rollout = require("summit.rollout")
local checks = require("summit.checks")
local release = require("summit.release")

-- "a,b, c" -> { "a", "b", "c" }
local function list(s)
  local out = {}
  for x in tostring(s or ""):gmatch("[^,%s]+") do out[#out + 1] = x end
  return out
end

-- The tag of an image: "registry/web:v4.0.4" -> "v4.0.4" (a digest is
-- kept whole); nil for an untagged image.
local function tag_of(image)
  local name = image:match("^[^@]+") or image
  return name:match(":([^:/]+)$")
end

-- Whether an image is what `want` names: the image itself, or its tag.
local function image_is(image, want)
  if image == want then return true end
  local t = tag_of(image)
  return t ~= nil and t == want
end

local function describe(history, current)
  local parts = {}
  for _, h in ipairs(history) do
    parts[#parts + 1] = string.format("%d (%s%s)", h.revision, table.concat(h.images, ", "),
      h.revision == current and ", current" or "")
  end
  return table.concat(parts, "; ")
end

local function refuse(code, fmt, ...)
  error({ code = code, message = string.format(fmt, ...) }, 0)
end

return runbook {
  name = "rollback",
  version = "1.0.0",
  description = "Roll a deployment back: undo to a revision, or switch blue-green back; verify; audit",
  params = {
    environment = { type = "string",
                    description = "the environment to roll back (or --env; a role of defaults.release.environments "
                      .. "such as production maps to its environment)" },
    revision = { type = "string", default = "previous",
                 description = "\"previous\", a ReplicaSet revision number, or a version (image tag or image)" },
    deployment = { type = "string",
                   description = "the Deployment (or blue-green base name); default: the environment's "
                     .. "deployment or app in summit.lua, else defaults.release.app, else web" },
    service = { type = "string", description = "the Service of a blue-green pair (default: the deployment's name)" },
    container = { type = "string", description = "the container whose image names a version (default: the first)" },
    reason = { type = "string", default = "", description = "why: recorded in the audit trail" },
    health_url = { type = "string", default = "", description = "an HTTP health check after the rollback" },
    checks = { type = "string", default = "",
               description = "summit.lua commands to run after the rollback, comma-separated: smoke,check_api" },
    timeout = { type = "string", default = "10m", description = "how long the rollout may take" },
  },
  -- A rollback and a deploy of the same environment never run at once.
  environment = release.lock_environment("roll back"),

  run = function(p)
    -- Where: summit.lua's environment (cluster, namespace, deployment), as
    -- the deploy runbook finds it (summit.release).
    local where, s = release.where(p, "rollback")
    local t = release.target(where, s)
    local k, ns, name = t.k, t.namespace, p.deployment or t.deployment
    for _, c in ipairs(list(p.checks)) do
      if not release.has_command(c) then
        fail(string.format("rollback: -p checks names '%s', which summit.lua's commands do not define", c))
      end
    end
    local nso = { namespace = ns }
    local base = { name = name, cluster = k, namespace = ns, service = p.service, container = p.container,
                   timeout = p.timeout }
    local want = p.revision

    -- What runs now.
    local st = rollout.status(base)
    local plan = step("plan rollback", function()
      if st.color then
        -- Blue-green: the other color is what ran before.
        local other
        for _, c in ipairs({ "blue", "green" }) do if c ~= st.color then other = c end end
        local found, od = pcall(k.get, k, "deployment/" .. name .. "-" .. other, nso)
        if not found then
          if type(od) == "table" and (od.reason == "NotFound" or od.code == "ENOTFOUND") then
            refuse("ENOREVISION", "blue-green %s: service/%s selects %s, and %s-%s does not exist: nothing to "
              .. "switch back to", name, p.service or name, st.color, name, other)
          end
          error(od, 0)
        end
        local oimage = od.spec.template.spec.containers[1].image
        for _, x in ipairs(od.spec.template.spec.containers) do
          if p.container == nil or x.name == p.container then oimage = x.image; break end
        end
        local from = st.active and st.active.image
        if want == "previous" or image_is(oimage, want) then
          return { mode = "switch_back", from = from, to = oimage, color = other, previous_color = st.color }
        end
        if from and image_is(from, want) then
          return { mode = "none", from = from, to = from, color = st.color,
                   note = string.format("%s (color %s) already runs %s", name, st.color, from) }
        end
        refuse("ENOREVISION", "blue-green %s: no color runs '%s'%s; %s-%s (active) runs %s, %s-%s runs %s",
          name, want, want:match("^%d+$") and " (a blue-green pair has colors, not revision numbers: "
            .. "give previous or a version)" or "", name, st.color, tostring(from), name, other, oimage)
      end
      if not st.stable then
        refuse("ENOTFOUND", "deployment/%s not found in namespace %s", name, tostring(ns))
      end
      if st.canary and want == "previous" then
        -- A canary in flight: what ran before is the stable alone.
        return { mode = "abort_canary", from = st.canary.image, to = st.stable.image,
                 canary = st.canary.image, revision = st.stable.revision }
      end
      local history = k:rollout_history("deployment/" .. name, nso)
      local current = st.stable.revision
      local target
      if want == "previous" then
        for i = #history, 1, -1 do
          if history[i].revision < (current or math.huge) then target = history[i]; break end
        end
        if not target then
          refuse("ENOREVISION", "deployment/%s has no revision before the current one; revisions: %s",
            name, describe(history, current))
        end
      elseif want:match("^%d+$") then
        for _, h in ipairs(history) do if h.revision == tonumber(want) then target = h end end
        if not target then
          refuse("ENOREVISION", "deployment/%s has no revision %s; revisions: %s", name, want,
            describe(history, current))
        end
      else
        -- A version: the newest revision whose image is it.
        for _, h in ipairs(history) do
          for _, img in ipairs(h.images) do
            if image_is(img, want) then target = h end
          end
        end
        if not target then
          refuse("ENOREVISION", "deployment/%s has no revision running '%s'; revisions: %s", name, want,
            describe(history, current))
        end
      end
      local mode = target.revision == current and "none" or "undo"
      return { mode = mode, from = st.stable.image, to = target.images[1], revision = target.revision,
               current = current, canary = st.canary and st.canary.image or nil,
               note = mode == "none" and string.format("deployment/%s already runs revision %d (%s)",
                 name, target.revision, table.concat(target.images, ", ")) or nil }
    end)
    log.info("rollback %s in %s: %s -> %s (%s)", name, where, tostring(plan.from), tostring(plan.to),
      plan.mode)

    audit.record("rollback.started", { environment = where, deployment = name, revision = want,
      mode = plan.mode, from = plan.from, to = plan.to, reason = p.reason })

    -- Act, then verify. A failure here leaves what was done in place: the
    -- error is marked no_undo, so the run ends failed (not rolled back: a
    -- rollback is never rolled back automatically) and `summit resume`
    -- tries the failed step again. The audit trail has the failed step and
    -- the run's end with the error.
    local ok, err = pcall(function()
      if plan.canary then
        -- A canary in flight goes first: the stable gets its replicas back.
        rollout.abort(base)
      end
      if plan.mode == "switch_back" then
        rollout.switch_back(base)
      elseif plan.mode == "undo" then
        local r = rollout.undo{ name = name, cluster = k, namespace = ns, revision = plan.revision,
                                timeout = p.timeout }
        log.info("%s", tostring(r.message))
      elseif plan.mode == "none" then
        log.info("nothing to roll back: %s", plan.note)
      end
      local target = plan.mode == "switch_back" and (name .. "-" .. plan.color) or name
      step("verify: rollout of " .. target, function()
        return k:rollout_status("deployment/" .. target, { timeout = p.timeout, namespace = ns })
      end)
      if p.health_url ~= "" then
        checks.http{ name = "verify: health", url = p.health_url, retries = 5, interval = "2s" }
      end
      for _, c in ipairs(list(p.checks)) do
        checks.command_from_config(c, { args = { "--environment", where } })
      end
    end)
    if not ok then
      if type(err) ~= "table" then err = { code = "ERUNBOOK", message = tostring(err) } end
      err.no_undo = true
      error(err, 0)
    end

    local result = { environment = where, deployment = name, mode = plan.mode, from = plan.from,
                     to = plan.to, revision = plan.revision, color = plan.color, reason = p.reason }
    audit.record("rollback", result)
    notify(string.format("rolled back %s in %s: %s -> %s (%s)%s", name, where, tostring(plan.from),
      tostring(plan.to), plan.mode, p.reason ~= "" and (": " .. p.reason) or ""),
      { level = "warn", fields = result })
    return result
  end,
}
