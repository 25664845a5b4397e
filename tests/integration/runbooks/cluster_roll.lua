-- Sets an image and waits for the rollout: the crash test kills it during
-- the wait.
return runbook {
  name = "cluster-roll", environment = true,
  params = { image = { type = "string", default = "registry/web:v2" },
             deadline = { type = "integer", default = 600 } },
  run = function(p)
    local k = cluster()
    step("deploy v1", function()
      local ok = pcall(k.get, k, "deployment/web")
      if ok then return "exists" end
      k:create({ apiVersion = "apps/v1", kind = "Deployment",
        metadata = { name = "web", labels = { app = "web" } },
        spec = { replicas = 3, progressDeadlineSeconds = p.deadline,
          selector = { matchLabels = { app = "web" } },
          template = { metadata = { labels = { app = "web" } },
            spec = { containers = { { name = "web", image = "registry/web:v1" } } } } } })
      return k:rollout_status("deployment/web", { timeout = "10m" }).revision
    end)
    step("set image", function() k:set_image("deployment/web", "web", p.image) end)
    local st = step("wait for rollout", function()
      return k:rollout_status("deployment/web", { timeout = "10m" })
    end)
    local h = step("history", function() return k:rollout_history("deployment/web") end)
    return { revision = st.revision, revisions = #h }
  end,
}
