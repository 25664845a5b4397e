-- A first runbook (written by `summit init`): rolls deployment/hello out
-- to a new image and waits for it. Every step is journaled: a run cut off
-- half-way resumes where it stopped (summit resume RUN).
--
--   summit run hello --env dev -p version=v1.0.1
return runbook {
  name = "hello",
  version = "1.0.0",
  description = "Roll deployment/hello out to a new image",
  params = {
    version = { type = "string", default = "v1.0.1", pattern = "^v%d+%.%d+%.%d+$",
                description = "The image tag to deploy" },
  },
  run = function(p)
    -- cluster(): the --env environment's cluster; without --env, the sim.
    local k = env.name and cluster() or cluster("sim")
    local before = step("current image", function()
      local d = k:get("deployment/hello")
      return d.spec.template.spec.containers[1].image
    end)
    log.info("deployment/hello runs %s", before)
    step("set image", function()
      k:set_image("deployment/hello", "hello", "registry/hello:" .. p.version)
    end)
    local status = step("wait for rollout", function()
      return k:rollout_status("deployment/hello", { timeout = "5m" })
    end)
    log.info("%s", status.message)
    return { before = before, after = p.version }
  end,
}
