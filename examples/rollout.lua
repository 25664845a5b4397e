-- Rolls a new image out to one environment of the simulated cluster,
-- waits for it as kubectl would, and rolls back by itself when the
-- rollout fails (undo).
--   summit run rollout.lua --env staging -p image=registry/web:v2.0.0
return runbook {
  name = "rollout", version = "1.0.0",
  environment = true,   -- locks the --env environment for the run
  params = {
    image = { type = "string", required = true, pattern = "^registry/web:" },
  },
  run = function(p)
    local k = cluster()
    local before = step("current image", function()
      return k:get("deployment/web").spec.template.spec.containers[1].image
    end)
    step{ "set image " .. p.image, function()
      k:set_image("deployment/web", "web", p.image)
    end, undo = function()
      log.warn("rolling back to %s", before)
      k:rollout_undo("deployment/web")
      k:rollout_status("deployment/web", { timeout = "10m" })
    end }
    -- Longer than the deployment's progress deadline (10 minutes), so a
    -- stuck rollout fails the way kubectl reports it.
    local st = step("wait for the rollout", function()
      return k:rollout_status("deployment/web", { timeout = "15m" })
    end)
    log.info("%s (revision %d)", st.message, st.revision)
    local events = step("recent events", function() return k:events("deployment/web") end)
    log.info("%d events, last: %s", #events, events[#events] and events[#events].message or "-")
    return { image = p.image, revision = st.revision }
  end,
}
