-- A team's configuration for the examples: two environments on summit's
-- simulated Kubernetes cluster, so everything runs with no cluster at all.
return {
  environments = {
    staging    = { cluster = "sim", namespace = "summit-staging" },
    production = { cluster = "sim", namespace = "summit-production" },
  },
  clusters = {
    sim = { sim = true, scenario = {
      rollout_seconds_per_pod = 10,
      bad_images = { "registry/web:broken*" },
      namespaces = { "summit-staging", "summit-production" },
      deployments = {
        { name = "web", namespace = "summit-staging", image = "registry/web:v1.0.0", replicas = 3 },
        { name = "web", namespace = "summit-production", image = "registry/web:v1.0.0", replicas = 4 },
      },
    } },
  },
}
