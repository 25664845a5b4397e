-- Every cluster method against the in-process sim, each result checked.
return runbook {
  name = "cluster-methods", environment = true,
  run = function()
    local k = cluster()
    local created = step("create", function()
      return k:create({ apiVersion = "apps/v1", kind = "Deployment",
        metadata = { name = "web", labels = { app = "web" } },
        spec = { replicas = 2, selector = { matchLabels = { app = "web" } },
          template = { metadata = { labels = { app = "web" } },
            spec = { containers = { { name = "web", image = "registry/web:v1" } } } } } })
    end)
    assert(created.metadata.namespace == env.namespace, "namespace defaults to the environment's")
    step("first rollout", function() return k:rollout_status("deployment/web", { timeout = "5m" }) end)
    local d = step("get", function() return k:get("deployment/web") end)
    assert(d.spec.template.spec.containers[1].image == "registry/web:v1")
    local l = step("list by label", function() return k:list("deployments", { labels = { app = "web" } }) end)
    assert(#l == 1 and l[1].metadata.name == "web", "list with a label selector")
    local none = step("list by field", function()
      return k:list("deployments", { field_selector = "metadata.name=nope" })
    end)
    assert(#none == 0, "field selector filters")
    step("set image", function() k:set_image("deployment/web", "web", "registry/web:v2") end)
    local st = step("rollout status", function() return k:rollout_status("deployment/web") end)
    assert(st.message == 'deployment "web" successfully rolled out', st.message)
    assert(st.revision == 2, "revision 2 after one image change")
    local e1 = step("set env", function() return k:set_env("deployment/web", { MAINTENANCE = "on", LEVEL = "3" }) end)
    local env1 = {}
    for _, v in ipairs(e1.spec.template.spec.containers[1].env) do env1[v.name] = v.value end
    assert(env1.MAINTENANCE == "on" and env1.LEVEL == "3", "set_env adds")
    local e2 = step("unset env", function() return k:set_env("deployment/web", { MAINTENANCE = false }) end)
    for _, v in ipairs(e2.spec.template.spec.containers[1].env or {}) do
      assert(v.name ~= "MAINTENANCE", "set_env with false removes")
    end
    local sc = step("scale", function() return k:scale("deployment/web", 3) end)
    assert(sc.spec.replicas == 3, "scale answers the Scale object")
    step("rollout after env", function() return k:rollout_status("deployment/web") end)
    local h = step("history", function() return k:rollout_history("deployment/web") end)
    assert(#h >= 3, "history lists every revision, got " .. #h)
    local u = step("undo", function() return k:rollout_undo("deployment/web") end)
    assert(not u.skipped and u.message:find("rolled back"), u.message)
    step("rollout after undo", function() return k:rollout_status("deployment/web") end)
    local u2 = step("undo to 1", function() return k:rollout_undo("deployment/web", { revision = 1 }) end)
    assert(u2.revision == 1)
    local after = step("get after undo", function() return k:get("deployment/web") end)
    assert(after.spec.template.spec.containers[1].image == "registry/web:v1", "undo to revision 1 brings v1 back")
    local r = step("restart", function() return k:rollout_restart("deployment/web") end)
    assert(r.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"], "restart annotates")
    step("rollout after restart", function() return k:rollout_status("deployment/web") end)
    local pods = step("pods", function() return k:pods("deployment/web") end)
    assert(#pods >= 3, "pods of the deployment")
    local logs = step("logs", function() return k:logs("deployment/web", { tail = 5 }) end)
    assert(type(logs) == "string" and #logs > 0, "logs")
    local ev = step("events", function() return k:events("deployment/web") end)
    assert(#ev > 0, "events of the deployment")
    for i = 2, #ev do
      assert((ev[i - 1].lastTimestamp or "") <= (ev[i].lastTimestamp or ""), "events sorted by lastTimestamp")
    end
    local w = step("wait for", function() return k:wait_for("deployment/web", "Available", { timeout = "1m" }) end)
    assert(w.metadata.name == "web")
    local cm = step("configmap", function()
      k:create({ apiVersion = "v1", kind = "ConfigMap", metadata = { name = "flags" }, data = { a = "1" } })
      local p = k:patch("configmap/flags", { data = { b = "2" } }, { type = "merge" })
      local j = k:patch("configmap/flags", { { op = "replace", path = "/data/a", value = "9" } }, { type = "json" })
      local got = k:get("configmap/flags")
      k:delete("configmap/flags")
      return { p.data.b, j.data.a, got.data.a }
    end)
    assert(cm[1] == "2" and cm[2] == "9" and cm[3] == "9", "merge and JSON patches")
    local ex = step("exec", function() return k:exec("deployment/web", { "migrate", "status" }) end)
    assert(ex.code == 0 and ex.stdout:find("up to date"), "scripted exec")
    local ok, err = pcall(k.get, k, "deployment/nope")
    assert(not ok and err.code == "ENOTFOUND" and err.reason == "NotFound", tostring(err))
    ok, err = pcall(k.create, k, created)
    assert(not ok and err.reason == "AlreadyExists", tostring(err))
    return "all methods checked"
  end,
}
