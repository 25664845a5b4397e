-- summit's configuration for this repository (written by `summit init`).
-- Runbooks live in runbooks/; shared Lua in lib/ (require("team.x") loads
-- lib/team/x.lua). The one environment, dev, is summit's simulated
-- Kubernetes cluster, so everything here runs with no cluster at all:
--
--   summit validate --strict runbooks/hello.lua
--   summit run hello --env dev
--
-- For a real cluster: clusters.NAME = { kubeconfig = "~/.kube/config",
-- context = "..." } and an environment pointing at it (docs/cluster.md).
return {
  runbooks = { "runbooks" },
  modules = { "lib" },

  environments = {
    dev = { cluster = "sim", namespace = "default" },
  },

  clusters = {
    sim = { sim = true, scenario = {
      rollout_seconds_per_pod = 2,
      deployments = {
        { name = "hello", namespace = "default", image = "registry/hello:v1.0.0", replicas = 2 },
      },
    } },
  },
}
