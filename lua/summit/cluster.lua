-- The cluster primitive: a Kubernetes API client over summit's HTTP layer
-- (libcurl on the loop, cJSON), with no client-go and no kubectl. Every
-- method is one journal entry, so a resumed run replays what the cluster
-- answered instead of asking again. Algorithms follow kubectl where the
-- reference names them (rollout status, undo, restart).
local E = require("summit.engine")
local T = require("summit.c.task")
local H = require("summit.c.http")
local X = require("summit.c.exec")
local K = require("summit.c.kube")
local json = require("summit.json")
local errors = require("summit.errors")
local redact = require("summit.redact")
local config = require("summit.config")
local util = require("summit.util")
local argcheck = require("summit.args")
local sandbox = require("summit.sandbox")

local M = {}

-- Resource names as kubectl accepts them -> where they live in the API.
local KINDS = {}
local function kind(group, version, plural, k, namespaced, ...)
  local info = { group = group, version = version, plural = plural, kind = k,
                 namespaced = namespaced }
  for _, alias in ipairs({ plural, ... }) do KINDS[alias] = info end
end
kind("apps", "v1", "deployments", "Deployment", true, "deployment", "deploy")
kind("apps", "v1", "replicasets", "ReplicaSet", true, "replicaset", "rs")
kind("", "v1", "pods", "Pod", true, "pod", "po")
kind("", "v1", "services", "Service", true, "service", "svc")
kind("", "v1", "configmaps", "ConfigMap", true, "configmap", "cm")
kind("", "v1", "events", "Event", true, "event", "ev")
kind("", "v1", "secrets", "Secret", true, "secret")
kind("", "v1", "namespaces", "Namespace", false, "namespace", "ns")
kind("batch", "v1", "jobs", "Job", true, "job")
-- Route objects carry traffic weights (summit.rollout's routers): an
-- Ingress with ingress-nginx's canary annotations, a Gateway API
-- HTTPRoute, an Istio VirtualService, an SMI TrafficSplit.
kind("networking.k8s.io", "v1", "ingresses", "Ingress", true, "ingress", "ing")
kind("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute", true, "httproute")
kind("networking.istio.io", "v1", "virtualservices", "VirtualService", true, "virtualservice", "vs")
kind("split.smi-spec.io", "v1alpha2", "trafficsplits", "TrafficSplit", true, "trafficsplit", "ts")

local argerr = argcheck.raiser("cluster:")

-- "deployment/web" or { kind = "deployment", name = "web" } -> info, name
local function parse_ref(fname, ref)
  local k, name
  if type(ref) == "table" then
    k, name = ref.kind, ref.name or (ref.metadata and ref.metadata.name)
  elseif type(ref) == "string" then
    k, name = ref:match("^([%w%.]+)/(.+)$")
  end
  local info = k and KINDS[k:lower()]
  if not info then
    argerr(fname, "ref", "expected \"deployment/web\" style, got " .. tostring(ref))
  end
  return info, name
end

-- ---------------------------------------------------------------------
-- Connections

local Client = {}
-- The methods are not the metatable, so obj.__index hands no runbook the
-- table every client of the run (and the stdlib's) shares.
local ClientMT = { __index = Client }

local sims = {}   -- cluster name -> running in-process sim (one per process)

local function expand_home(p)
  if type(p) == "string" and p:sub(1, 2) == "~/" then
    return (os.getenv("HOME") or "") .. p:sub(2)
  end
  return p
end

-- summit test's knobs (docs/testing.md) laid over the cluster's scenario:
-- objects merge key by key, anything else (lists, values) is replaced.
local function merge(base, over)
  if type(base) ~= "table" or type(over) ~= "table" or over[1] ~= nil or base[1] ~= nil then
    return over
  end
  local t = {}
  for k, v in pairs(base) do t[k] = v end
  for k, v in pairs(over) do t[k] = merge(base[k], v) end
  return t
end

local function test_knobs(scn)
  local over = T.test_scenario()
  if not over then return scn end
  if type(scn) == "string" then
    local t, err = require("summit.sim.scenario").load_file(scn)
    if not t then error(errors.new("ESCENARIO", err), 0) end
    scn = t
  end
  return merge(scn or {}, json.decode(over))
end

-- Starts (once) the in-process simulated cluster named `name`.
local function sim_url(name, spec)
  if not sims[name] then
    local state = T.state_dir()
    local s = require("summit.sim").start({
      name = name, time_scale = T.time_scale(),
      -- A file name is relative to summit.lua (docs/sim.md).
      scenario = test_knobs(require("summit.sim.scenario").resolve(spec.scenario, config.path)),
      state_file = state and (state .. "/sim-" .. name .. ".json") or nil,
    })
    sims[name] = s
    E.at_exit(function() s.stop(); sims[name] = nil end)
  end
  return sims[name].url
end

-- connection(spec) -> { server, namespace, tls..., auth... } for cluster()
local function connection(spec, where)
  if spec.sim then
    return { server = sim_url(where, spec), namespace = spec.namespace or "default",
             sim = sims[where] }
  end
  if spec.server then
    return { server = spec.server, namespace = spec.namespace or "default",
             token = spec.token, token_file = spec.token_file, ca_file = spec.ca_file,
             insecure = spec.insecure }
  end
  if spec.in_cluster then
    local c, err = K.in_cluster()
    if not c then error(errors.new("EKUBECONFIG", err), 0) end
    return c
  end
  local paths = spec.kubeconfig and { expand_home(spec.kubeconfig) } or K.default_paths()
  local c, err = K.resolve(paths, spec.context)
  if not c then error(errors.new("EKUBECONFIG", err), 0) end
  if spec.namespace then c.namespace = spec.namespace end
  return c
end

-- cluster() / cluster("name") / cluster{ kubeconfig =, context =, namespace = }
function M.client(arg)
  local cfg = config.current or {}
  local env = config.env or {}
  local spec, where
  if arg == nil then
    where = env.cluster
    if not where then
      error(errors.new("ENOCLUSTER", "cluster(): no environment selected (run with --env NAME) "
        .. "or its environment names no cluster"), 2)
    end
    spec = (cfg.clusters or {})[where]
  elseif type(arg) == "string" then
    where, spec = arg, (cfg.clusters or {})[arg]
  elseif type(arg) == "table" then
    where, spec = arg.name or "explicit", arg
  else
    argerr("client", "cluster", "nil, a cluster name or a table")
  end
  if type(spec) ~= "table" then
    error(errors.new("ENOCLUSTER", string.format("no cluster '%s' in summit.lua (clusters: %s)",
      tostring(where), argcheck.known(cfg.clusters or {}))), 2)
  end
  -- The client's spec is its own: k.spec is the runbook's to read, and
  -- what it writes there must not change summit.lua's clusters.
  local self = setmetatable({ name = where, spec = sandbox.deep(spec) }, ClientMT)
  -- The namespace: the call's, then the environment's, then the context's.
  self.default_ns = (type(arg) == "table" and arg.namespace)
    or (arg == nil and env.namespace) or spec.namespace
  -- The namespace in the journal identity of every call: the one known
  -- now, before connecting. (The kubeconfig's, learnt on connecting, would
  -- make a resumed run, whose replayed calls never connect, diverge.)
  self.ident_ns = self.default_ns
  return self
end

function Client:conn()
  if not self.c then
    self.c = connection(self.spec, self.name)
    self.default_ns = self.default_ns or self.c.namespace or "default"
  end
  return self.c
end

-- spec.cluster of KUBERNETES_EXEC_INFO when the exec config sets
-- provideClusterInfo (client-go's rest.ConfigToExecCluster): the server and
-- its TLS settings, the CA as data even when the kubeconfig names a file.
-- The cluster's exec extension (`config`) is not read by summit.
local function exec_cluster(c)
  if not c.exec.provide_cluster_info then return nil end
  local ca = c.ca_data
  if not ca and c.ca_file then
    local f = io.open(c.ca_file, "rb")
    if f then ca = f:read("*a"); f:close() end
  end
  return { server = c.server, ["tls-server-name"] = c.tls_server_name,
           ["insecure-skip-tls-verify"] = c.insecure or nil,
           ["certificate-authority-data"] = ca and K.base64(ca) or nil,
           ["proxy-url"] = c.proxy_url }
end

-- ExecCredential plugins: run once, cached until shortly before expiry.
local cred_cache = {}
local function exec_token(c)
  local key = table.concat(c.exec.argv, "\0")
  local hit = cred_cache[key]
  if hit and (not hit.expires or hit.expires - 30000 > T.now_ms()) then return hit end
  -- A run has no terminal: as client-go without one, a plugin that must
  -- be interactive is refused, and every other one is told it is not.
  if c.exec.interactive_mode == "Always" then
    error(errors.new("EKUBEAUTH", string.format("credential plugin '%s' needs interactiveMode "
      .. "Always, but a summit run has no terminal for it; use a plugin (or flags) that "
      .. "works non-interactively", c.exec.argv[1])), 0)
  end
  local env = { KUBERNETES_EXEC_INFO = json.encode({
    apiVersion = c.exec.api_version or "client.authentication.k8s.io/v1",
    kind = "ExecCredential", spec = { interactive = false, cluster = exec_cluster(c) } }) }
  for _, e in ipairs(c.exec.env or {}) do env[e.name] = e.value end
  local r, code, msg = X.run(c.exec.argv, { env = env, timeout_ms = 60000, label = "exec-credential",
                                            secret_output = true })
  if not r or r.code ~= 0 then
    local hint = not r and c.exec.install_hint and ("\n" .. c.exec.install_hint) or ""
    error(errors.new("EKUBEAUTH", string.format("credential plugin '%s' failed: %s%s",
      c.exec.argv[1], r and ("exit " .. r.code .. ": " .. (r.stderr or ""):sub(1, 300))
        or tostring(msg), hint)), 0)
  end
  local cred, err = K.parse_credential(r.stdout)
  if not cred then error(errors.new("EKUBEAUTH", err), 0) end
  cred_cache[key] = cred
  return cred
end

-- A tokenFile is read before every request (it may be rotated) and, as in
-- client-go, wins over an inline token. A file that cannot be read keeps
-- the last value read from it; one never read is an error, not a request
-- sent without credentials.
local last_token = {}
local function file_token(path)
  local f, err = io.open(path, "rb")
  if f then
    local s = f:read("*a")
    f:close()
    last_token[path] = (s:gsub("%s+$", ""))
  elseif not last_token[path] then
    error(errors.new("EKUBEAUTH", "cannot read the token file: " .. tostring(err)), 0)
  end
  return last_token[path]
end

-- ---------------------------------------------------------------------
-- Requests

local RETRY_READ = { [429] = true, [500] = true, [502] = true, [503] = true, [504] = true }

local function request_opts(self, method, path, body, ctype, accept)
  local c = self:conn()
  local headers = { Accept = accept or "application/json" }
  if body then headers["Content-Type"] = ctype or "application/json" end
  local o = { method = method, url = c.server:gsub("/+$", "") .. path, headers = headers,
              max_per_host = (config.http_caps()), max_total = select(2, config.http_caps()),
              body = body, timeout_ms = 60000 / T.time_scale(), insecure = c.insecure,
              ca_file = c.ca_file, ca = c.ca_data, cert = c.cert_file, key = c.key_file,
              deadline_ms = E.deadline() }
  -- PEM data from the kubeconfig or a plugin stays in memory (curl blobs).
  o.cert_pem, o.key_pem = c.cert_data, c.key_data
  local token = c.token_file and file_token(c.token_file) or c.token
  if c.exec then
    local cred = exec_token(c)
    token = cred.token or token
    if cred.cert_data then o.cert_pem, o.key_pem = cred.cert_data, cred.key_data end
  end
  if token then headers.Authorization = "Bearer " .. token
  elseif c.username then
    headers.Authorization = "Basic " .. K.base64((c.username or "") .. ":" .. (c.password or ""))
  end
  return o
end

local function api_error(status, body, what)
  local ok, st = pcall(json.decode, body or "")
  if ok and type(st) == "table" and st.kind == "Status" then
    local reason = st.reason or "Unknown"
    return errors.new("E" .. reason:upper(), st.message or what, { reason = reason, status = status,
      details = st.details })
  end
  return errors.new("EAPI", string.format("%s: the API server answered %d: %s", what, status,
    tostring(body):sub(1, 300)), { status = status, reason = "Unknown" })
end

-- call(method, path, body, opts) -> decoded JSON (or text with opts.text).
-- Reads are retried on 429/5xx and connection errors; writes only on 429.
function Client:call(method, path, body, opts)
  opts = opts or {}
  local what = method .. " " .. path
  local safe = method == "GET"
  for attempt = 1, 5 do
    local o = request_opts(self, method, path, body, opts.ctype, opts.accept)
    local r, code, msg = H.request(o)
    if not r then
      if code == "ETIMEDOUT" or code == "ECANCELED" then
        error(errors.new(code, what .. ": " .. tostring(msg)), 0)
      end
      if not (safe and attempt < 5 and code == "ECONNREFUSED" and attempt < 2) then
        error(errors.new(code, string.format("%s: %s (server %s)", what, tostring(msg),
          redact.url(self:conn().server))), 0)
      end
    elseif r.status >= 200 and r.status <= 299 then
      if opts.text then return r.body end
      if r.body == "" then return nil end
      local ok, v = pcall(json.decode, r.body)
      if not ok then
        error(errors.new("EBADJSON", string.format("%s: the API server's answer is not JSON: %s",
          what, r.body:sub(1, 200))), 0)
      end
      return v
    elseif not ((safe and RETRY_READ[r.status]) or r.status == 429) or attempt == 5 then
      error(api_error(r.status, r.body, what), 0)
    end
    E.check_wait(T.sleep_until(T.now_ms() + (100 * 2 ^ (attempt - 1)) / T.time_scale(),
      E.deadline()))
  end
end

function Client:ns(opts)
  self:conn()
  return (opts and opts.namespace) or self.default_ns
end

local function base(info)
  if info.group == "" then return "/api/" .. info.version end
  return "/apis/" .. info.group .. "/" .. info.version
end

local function path_of(self, info, name, opts, sub)
  local p = base(info)
  if info.namespaced then p = p .. "/namespaces/" .. self:ns(opts) end
  p = p .. "/" .. info.plural
  if name then p = p .. "/" .. name end
  if sub then p = p .. "/" .. sub end
  return p
end

local function query(t)
  local parts = {}
  for k, v in pairs(t) do parts[#parts + 1] = k .. "=" .. util.urlencode(v) end
  table.sort(parts)
  return #parts > 0 and ("?" .. table.concat(parts, "&")) or ""
end

-- A journal entry around one client method: the identity is the method,
-- the cluster, the namespace and the arguments (never credentials).
-- The values of a Secret's data and stringData, masked at any depth (a
-- Secret, a list of them, a patch of one).
local function mask_secret_data(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do
    if (k == "data" or k == "stringData") and type(x) == "table" then
      local m = {}
      for dk in pairs(x) do m[dk] = redact.MASK end
      c[k] = m
    else
      c[k] = mask_secret_data(x)
    end
  end
  return setmetatable(c, getmetatable(v))
end

local function entry(self, method, desc, args, fn)
  local ident = json.encode({ self.name, self.ident_ns or json.null, method, args })
  -- Requests leave when the loop runs, after the scheduler has committed
  -- the started row (see the http entry in api.lua).
  local opts = { effect = true, durable = false }
  if desc:match("^secrets[/ ]") or desc == "secrets" then
    -- A Secret's values are never journaled: the arguments are stored
    -- masked (the hash is of the real ones), and so is the answer; the
    -- caller gets it whole, a replay gets it masked (docs/secrets.md).
    local stored = json.encode({ self.name, self.ident_ns or json.null, method,
                                 mask_secret_data(args) })
    opts.stored = function() return stored end
    opts.secret_result = function(...)
      local r = { ... }
      for i = 1, select("#", ...) do r[i] = mask_secret_data(r[i]) end
      return unpack(r, 1, select("#", ...))
    end
  end
  return E.entry("cluster", method .. " " .. desc, ident, opts, fn)
end

-- ---------------------------------------------------------------------
-- Methods

function Client:get(ref, opts)
  local info, name = parse_ref("get", ref)
  return entry(self, "get", info.plural .. "/" .. name, { ref = ref, opts = opts }, function()
    return self:call("GET", path_of(self, info, name, opts))
  end)
end

local function selector_opts(opts)
  local q = {}
  if opts.label_selector then q.labelSelector = opts.label_selector end
  if opts.field_selector then q.fieldSelector = opts.field_selector end
  if type(opts.labels) == "table" then
    local parts = {}
    for k, v in pairs(opts.labels) do parts[#parts + 1] = k .. "=" .. v end
    table.sort(parts)
    q.labelSelector = table.concat(parts, ",")
  end
  return q
end

function Client:list(kindname, opts)
  opts = opts or {}
  local info = KINDS[tostring(kindname):lower()]
  if not info then argerr("list", "kind", "unknown kind " .. tostring(kindname)) end
  return entry(self, "list", info.plural, { kind = kindname, opts = opts }, function()
    local r = self:call("GET", path_of(self, info, nil, opts) .. query(selector_opts(opts)))
    return r.items or {}
  end)
end

local function obj_info(fname, obj)
  if type(obj) ~= "table" or type(obj.kind) ~= "string" or type(obj.metadata) ~= "table" then
    argerr(fname, "object", "a Kubernetes object with kind and metadata")
  end
  local info = KINDS[obj.kind:lower()]
  if not info then argerr(fname, "object", "unknown kind " .. obj.kind) end
  return info
end

function Client:create(obj, opts)
  local info = obj_info("create", obj)
  local o = { namespace = (opts and opts.namespace) or obj.metadata.namespace }
  return entry(self, "create", info.plural .. "/" .. tostring(obj.metadata.name), { obj = obj }, function()
    return self:call("POST", path_of(self, info, nil, o), json.encode(obj))
  end)
end

function Client:replace(obj, opts)
  local info = obj_info("replace", obj)
  local o = { namespace = (opts and opts.namespace) or obj.metadata.namespace }
  return entry(self, "replace", info.plural .. "/" .. obj.metadata.name, { obj = obj }, function()
    return self:call("PUT", path_of(self, info, obj.metadata.name, o), json.encode(obj))
  end)
end

local PATCH_TYPES = {
  merge = "application/merge-patch+json",
  strategic = "application/strategic-merge-patch+json",
  json = "application/json-patch+json",
}

local function do_patch(self, info, name, patch, ptype, opts, sub)
  local ctype = PATCH_TYPES[ptype or "strategic"]
  if not ctype then argerr("patch", "type", "merge, strategic or json") end
  local body = type(patch) == "string" and patch or json.encode(patch)
  return self:call("PATCH", path_of(self, info, name, opts, sub) .. "?fieldManager=summit", body,
    { ctype = ctype })
end

function Client:patch(ref, patch, opts)
  opts = opts or {}
  local info, name = parse_ref("patch", ref)
  return entry(self, "patch", info.plural .. "/" .. name, { ref = ref, patch = patch, opts = opts },
    function() return do_patch(self, info, name, patch, opts.type, opts) end)
end

function Client:delete(ref, opts)
  local info, name = parse_ref("delete", ref)
  return entry(self, "delete", info.plural .. "/" .. name, { ref = ref, opts = opts }, function()
    return self:call("DELETE", path_of(self, info, name, opts))
  end)
end

function Client:set_image(ref, container, image, opts)
  local info, name = parse_ref("set_image", ref)
  if type(container) ~= "string" then argerr("set_image", "container", "a container name") end
  if type(image) ~= "string" then argerr("set_image", "image", "an image reference") end
  return entry(self, "set_image", info.plural .. "/" .. name,
    { ref = ref, container = container, image = image, opts = opts }, function()
      local patch = { spec = { template = { spec = { containers = {
        { name = container, image = image } } } } } }
      return do_patch(self, info, name, patch, "strategic", opts)
    end)
end

-- set_env(ref, { NAME = "value", OLD = false }, { container = "app" }):
-- false removes a variable, as `kubectl set env NAME-` does.
function Client:set_env(ref, vars, opts)
  opts = opts or {}
  local info, name = parse_ref("set_env", ref)
  if type(vars) ~= "table" then argerr("set_env", "vars", "a table of NAME = value") end
  return entry(self, "set_env", info.plural .. "/" .. name, { ref = ref, vars = vars, opts = opts },
    function()
      local obj = self:call("GET", path_of(self, info, name, opts))
      local containers = obj.spec.template.spec.containers or {}
      local patched = {}
      for _, c in ipairs(containers) do
        if not opts.container or c.name == opts.container then
          local env = {}
          local keys = {}
          for k in pairs(vars) do keys[#keys + 1] = k end
          table.sort(keys)
          for _, k in ipairs(keys) do
            local v = vars[k]
            if v == false then env[#env + 1] = { name = k, ["$patch"] = "delete" }
            else env[#env + 1] = { name = k, value = tostring(v) } end
          end
          patched[#patched + 1] = { name = c.name, env = env }
        end
      end
      if #patched == 0 then
        error(errors.new("ENOTFOUND", string.format("%s/%s has no container '%s'", info.plural,
          name, tostring(opts.container))), 0)
      end
      return do_patch(self, info, name, { spec = { template = { spec = { containers = patched } } } },
        "strategic", opts)
    end)
end

function Client:scale(ref, replicas, opts)
  local info, name = parse_ref("scale", ref)
  if type(replicas) ~= "number" or replicas < 0 then argerr("scale", "replicas", "a number >= 0") end
  return entry(self, "scale", info.plural .. "/" .. name, { ref = ref, replicas = replicas, opts = opts },
    function()
      return do_patch(self, info, name, { spec = { replicas = replicas } }, "merge", opts, "scale")
    end)
end

-- ---------------------------------------------------------------------
-- Watches

-- watch(path, rv, on_event, deadline): streams events until on_event
-- returns a value (returned) or the server closes the stream (returns nil).
-- A 410 Expired raises EEXPIRED so the caller re-lists.
function Client:watch(path, rv, on_event, deadline)
  local sep = path:find("?", 1, true) and "&" or "?"
  local url_path = path .. sep .. "watch=true&allowWatchBookmarks=true&resourceVersion="
    .. util.urlencode(rv or "") .. "&timeoutSeconds=300"
  local o = request_opts(self, "GET", url_path)
  o.timeout_ms = nil
  o.deadline_ms = deadline
  local s, code, msg = H.stream(o)
  if not s then error(errors.new(code, msg), 0) end
  local ok, res = pcall(function()
    while true do
      local line, lcode, lmsg, tail = s:next(deadline)
      if not line then
        if lcode == "EOF" then
          local status = lmsg
          if status and status >= 300 then error(api_error(status, tail, "watch " .. path), 0) end
          if tail and tail ~= "" then
            error(errors.new("EWATCH", "the watch stream ended inside an event (truncated): "
              .. tail:sub(1, 120)), 0)
          end
          return nil
        end
        error(errors.new(lcode, tostring(lmsg)), 0)
      end
      if line ~= "" then
        local okj, ev = pcall(json.decode, line)
        if not okj or type(ev) ~= "table" then
          error(errors.new("EBADJSON", "a watch event is not JSON: " .. line:sub(1, 120)), 0)
        end
        if ev.type == "ERROR" then
          local st = ev.object or {}
          if st.code == 410 then error(errors.new("EEXPIRED", st.message or "too old resource version",
            { reason = "Expired", status = 410 }), 0) end
          error(errors.new("E" .. tostring(st.reason or "WATCH"):upper(), st.message or line), 0)
        end
        if ev.type ~= "BOOKMARK" then
          local r = on_event(ev.type, ev.object)
          if r ~= nil then return r end
        end
      end
    end
  end)
  s:close()
  if not ok then error(res, 0) end
  return res
end

-- Lists then watches one object by name until check(obj) returns a value;
-- re-lists on 410 and when the server ends the watch (kubectl's
-- UntilWithSync). check may raise to fail.
function Client:until_object(info, name, opts, check, deadline)
  local list_path = path_of(self, info, nil, opts)
  local sel = { fieldSelector = "metadata.name=" .. name }
  while true do
    local l = self:call("GET", list_path .. query(sel))
    for _, obj in ipairs(l.items or {}) do
      local r = check(obj)
      if r ~= nil then return r end
    end
    local ok, r = pcall(self.watch, self, list_path .. query(sel), l.metadata and l.metadata.resourceVersion,
      function(typ, obj)
        if typ == "DELETED" then
          error(errors.new("ENOTFOUND", string.format("%s %q has been deleted", info.kind:lower(), name)), 0)
        end
        return check(obj)
      end, deadline)
    if ok and r ~= nil then return r end
    if not ok and not (type(r) == "table" and r.code == "EEXPIRED") then error(r, 0) end
  end
end

local function deadline_of(fname, opts, default)
  local t = opts and opts.timeout or default
  local ms = argcheck.duration("cluster:" .. fname, "timeout", t)
  local d = T.now_ms() + ms / T.time_scale()
  local outer = E.deadline()
  if outer and outer < d then d = outer end
  return d
end

local function condition(obj, typ)
  for _, c in ipairs((obj.status or {}).conditions or {}) do
    if c.type == typ then return c end
  end
end

-- kubectl's DeploymentStatusViewer (reference §1): nil while waiting, the
-- final message when done; raises on ProgressDeadlineExceeded.
local function deployment_status(obj, revision)
  local ann = (obj.metadata or {}).annotations or {}
  if revision and revision > 0 then
    local cur = tonumber(ann["deployment.kubernetes.io/revision"] or 0)
    if cur ~= revision then
      error(errors.new("EREVISION", string.format(
        "desired revision (%d) is different from the running revision (%d)", revision, cur)), 0)
    end
  end
  local st, spec, name = obj.status or {}, obj.spec or {}, obj.metadata.name
  if (obj.metadata.generation or 0) <= (st.observedGeneration or 0) then
    local c = condition(obj, "Progressing")
    if c and c.reason == "ProgressDeadlineExceeded" then
      error(errors.new("EPROGRESSDEADLINE", string.format("deployment %q exceeded its progress deadline", name),
        { reason = "ProgressDeadlineExceeded" }), 0)
    end
    local want, updated = spec.replicas, st.updatedReplicas or 0
    if want and updated < want then return nil end
    if (st.replicas or 0) > updated then return nil end
    if (st.availableReplicas or 0) < updated then return nil end
    return { message = string.format("deployment %q successfully rolled out", name),
             revision = tonumber(ann["deployment.kubernetes.io/revision"] or 0),
             replicas = st.replicas or 0, available = st.availableReplicas or 0 }
  end
  return nil
end

-- rollout_status(ref, { timeout = "10m", revision = N })
function Client:rollout_status(ref, opts)
  opts = opts or {}
  local info, name = parse_ref("rollout_status", ref)
  if info.plural ~= "deployments" then argerr("rollout_status", "ref", "a deployment") end
  return entry(self, "rollout_status", info.plural .. "/" .. name, { ref = ref, opts = opts }, function()
    local deadline = deadline_of("rollout_status", opts, "10m")
    local ok, r = pcall(self.until_object, self, info, name, opts,
      function(obj) return deployment_status(obj, opts.revision) end, deadline)
    if not ok then
      if type(r) == "table" and r.code == "ETIMEDOUT" then
        r.message = string.format("timed out waiting for deployment %q to roll out", name)
      end
      error(r, 0)
    end
    return r
  end)
end

-- wait_for(ref, fn(obj) -> truthy | "Condition" | { condition = "Ready" }, { timeout })
function Client:wait_for(ref, cond, opts)
  opts = opts or {}
  local info, name = parse_ref("wait_for", ref)
  local check
  if type(cond) == "function" then
    check = function(obj) local v = cond(obj); if v then return obj end end
  else
    local typ = type(cond) == "table" and cond.condition or cond
    local want = type(cond) == "table" and cond.status or "True"
    if type(typ) ~= "string" then argerr("wait_for", "condition", "a function, a condition type or { condition = }") end
    check = function(obj)
      local c = condition(obj, typ)
      if c and c.status == want then return obj end
    end
  end
  return entry(self, "wait_for", info.plural .. "/" .. name,
    { ref = ref, cond = type(cond) == "function" and "function" or cond, opts = opts }, function()
      return self:until_object(info, name, opts, check, deadline_of("wait_for", opts, "5m"))
    end)
end

-- ---------------------------------------------------------------------
-- Rollout history, undo, restart (kubectl's algorithms, reference §5)

local REV = "deployment.kubernetes.io/revision"

local function owned_replicasets(self, dep, opts)
  local sel = {}
  for k, v in pairs(((dep.spec or {}).selector or {}).matchLabels or {}) do sel[#sel + 1] = k .. "=" .. v end
  table.sort(sel)
  local l = self:call("GET", path_of(self, KINDS.replicasets, nil, opts)
    .. query({ labelSelector = table.concat(sel, ",") }))
  local out = {}
  for _, rs in ipairs(l.items or {}) do
    for _, o in ipairs(rs.metadata.ownerReferences or {}) do
      if o.controller and o.uid == dep.metadata.uid then
        out[#out + 1] = rs
      end
    end
  end
  table.sort(out, function(a, b)
    return tonumber((a.metadata.annotations or {})[REV] or 0) < tonumber((b.metadata.annotations or {})[REV] or 0)
  end)
  return out
end

function Client:rollout_history(ref, opts)
  local info, name = parse_ref("rollout_history", ref)
  return entry(self, "rollout_history", info.plural .. "/" .. name, { ref = ref, opts = opts }, function()
    local dep = self:call("GET", path_of(self, info, name, opts))
    local out = {}
    for _, rs in ipairs(owned_replicasets(self, dep, opts)) do
      local ann = rs.metadata.annotations or {}
      local images = {}
      for _, c in ipairs(rs.spec.template.spec.containers or {}) do images[#images + 1] = c.image end
      out[#out + 1] = { revision = tonumber(ann[REV] or 0), replicaset = rs.metadata.name,
                        change_cause = ann["kubernetes.io/change-cause"], images = images }
    end
    return out
  end)
end

local SKIP_ANN = {
  [REV] = true, ["deployment.kubernetes.io/revision-history"] = true,
  ["deployment.kubernetes.io/desired-replicas"] = true,
  ["deployment.kubernetes.io/max-replicas"] = true,
  ["kubectl.kubernetes.io/last-applied-configuration"] = true,
  ["deprecated.deployment.rollback.to"] = true,
}

local function same_template(a, b)
  local function strip(t)
    local c = json.decode(json.encode(t))
    if c.metadata and c.metadata.labels then c.metadata.labels["pod-template-hash"] = nil end
    return c
  end
  return json.encode(strip(a)) == json.encode(strip(b))
end

-- rollout_undo(ref, { revision = N }) -> { revision, skipped }
function Client:rollout_undo(ref, opts)
  opts = opts or {}
  local info, name = parse_ref("rollout_undo", ref)
  return entry(self, "rollout_undo", info.plural .. "/" .. name, { ref = ref, opts = opts }, function()
    local dep = self:call("GET", path_of(self, info, name, opts))
    if dep.spec.paused then
      error(errors.new("EPAUSED", string.format("you cannot rollback a paused deployment; resume it first"
        .. " with 'kubectl rollout resume' and try again")), 0)
    end
    local sets = owned_replicasets(self, dep, opts)
    local target
    local want = opts.revision or 0
    if want == 0 then
      -- The second-highest revision: the one before the current.
      local cur = tonumber((dep.metadata.annotations or {})[REV] or 0)
      for i = #sets, 1, -1 do
        local rev = tonumber((sets[i].metadata.annotations or {})[REV] or 0)
        if rev < cur then target = sets[i]; break end
      end
      if not target then error(errors.new("ENOHISTORY", "no rollout history found for deployment " .. name), 0) end
    else
      for _, rs in ipairs(sets) do
        if tonumber((rs.metadata.annotations or {})[REV] or 0) == want then target = rs end
      end
      if not target then
        error(errors.new("ENOREVISION", string.format("unable to find specified revision %d in history", want)), 0)
      end
    end
    local rev = tonumber(target.metadata.annotations[REV])
    if same_template(target.spec.template, dep.spec.template) then
      return { revision = rev, skipped = true,
               message = string.format("skipped rollback (current template already matches revision %d)", rev) }
    end
    local template = json.decode(json.encode(target.spec.template))
    if template.metadata and template.metadata.labels then template.metadata.labels["pod-template-hash"] = nil end
    local ann = {}
    for k, v in pairs(dep.metadata.annotations or {}) do if SKIP_ANN[k] then ann[k] = v end end
    for k, v in pairs(target.metadata.annotations or {}) do if not SKIP_ANN[k] then ann[k] = v end end
    local patch = { { op = "replace", path = "/spec/template", value = template },
                    { op = "replace", path = "/metadata/annotations", value = ann } }
    self:call("PATCH", path_of(self, info, name, opts), json.encode(patch),
      { ctype = PATCH_TYPES.json })
    return { revision = rev, skipped = false, message = "deployment.apps/" .. name .. " rolled back" }
  end)
end

function Client:rollout_restart(ref, opts)
  local info, name = parse_ref("rollout_restart", ref)
  return entry(self, "rollout_restart", info.plural .. "/" .. name, { ref = ref, opts = opts }, function()
    local dep = self:call("GET", path_of(self, info, name, opts))
    if dep.spec.paused then
      error(errors.new("EPAUSED", "can't restart paused deployment (run rollout resume first)"), 0)
    end
    local patch = { spec = { template = { metadata = { annotations = {
      ["kubectl.kubernetes.io/restartedAt"] = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(T.now_ms() / 1000)),
    } } } } }
    return do_patch(self, info, name, patch, "strategic", opts)
  end)
end

-- ---------------------------------------------------------------------
-- Pods, logs, events, exec

local function pods_of(self, ref, opts)
  local info, name = parse_ref("pods", ref)
  if info.plural == "pods" then return { self:call("GET", path_of(self, info, name, opts)) } end
  local obj = self:call("GET", path_of(self, info, name, opts))
  local sel = {}
  for k, v in pairs(((obj.spec or {}).selector or {}).matchLabels or {}) do sel[#sel + 1] = k .. "=" .. v end
  table.sort(sel)
  local l = self:call("GET", path_of(self, KINDS.pods, nil, opts) .. query({ labelSelector = table.concat(sel, ",") }))
  return l.items or {}
end

function Client:pods(ref, opts)
  return entry(self, "pods", tostring(type(ref) == "table" and ref.name or ref), { ref = ref, opts = opts },
    function() return pods_of(self, ref, opts) end)
end

-- logs(ref, { tail =, since =, container =, previous =, grep = }) -> text
function Client:logs(ref, opts)
  opts = opts or {}
  return entry(self, "logs", tostring(type(ref) == "table" and ref.name or ref), { ref = ref, opts = opts },
    function()
      local pods = pods_of(self, ref, opts)
      if #pods == 0 then error(errors.new("ENOTFOUND", "no pods for " .. tostring(ref)), 0) end
      local pod = pods[1]
      local q = {}
      if opts.container then q.container = opts.container end
      if opts.tail then q.tailLines = opts.tail end
      if opts.since then
        local ms = argcheck.duration("cluster:logs", "since", opts.since)
        q.sinceSeconds = math.max(1, math.floor(ms / 1000))
      end
      if opts.previous then q.previous = "true" end
      local text = self:call("GET", path_of(self, KINDS.pods, pod.metadata.name, opts, "log") .. query(q),
        nil, { text = true, accept = "text/plain" })
      if opts.grep then
        local keep = {}
        for line in (text .. "\n"):gmatch("([^\n]*)\n") do
          if line:find(opts.grep) then keep[#keep + 1] = line end
        end
        text = table.concat(keep, "\n")
      end
      return text
    end)
end

local function ts_of(ev)
  return ev.lastTimestamp or ev.eventTime or (ev.metadata or {}).creationTimestamp or ""
end

-- events(ref_or_nil, { namespace }) -> events sorted by lastTimestamp
function Client:events(ref, opts)
  opts = opts or {}
  return entry(self, "events", tostring(ref or "namespace"), { ref = ref, opts = opts }, function()
    local q = {}
    if ref then
      local _, name = parse_ref("events", ref)
      q.fieldSelector = "involvedObject.name=" .. name
    end
    local l = self:call("GET", path_of(self, KINDS.events, nil, opts) .. query(q))
    local items = l.items or {}
    table.sort(items, function(a, b) return ts_of(a) < ts_of(b) end)
    return items
  end)
end

-- The pod an exec runs in: the pod itself, or a running pod of a
-- deployment (or any object with a selector), as kubectl picks one.
local function exec_pod(self, ref, opts)
  local pods = pods_of(self, ref, opts)
  local pick
  for _, p in ipairs(pods) do
    if not pick and (p.status or {}).phase == "Running" and not (p.metadata or {}).deletionTimestamp then
      pick = p
    end
  end
  pick = pick or pods[1]
  if not pick then
    error(errors.new("ENOTFOUND", "no pods found for " .. tostring(type(ref) == "table" and ref.name or ref),
      { reason = "NotFound" }), 0)
  end
  return pick
end

-- exec over the WebSocket protocol (summit/ws_exec.lua). Returns the
-- result, or nil and the API server's non-101 answer.
local function ws_exec(self, ref, argv, opts)
  local pod = exec_pod(self, ref, opts)
  local cname = opts.container or
    ((pod.metadata or {}).annotations or {})["kubectl.kubernetes.io/default-container"] or
    (((pod.spec or {}).containers or {})[1] or {}).name
  local q = {}
  for _, a in ipairs(argv) do q[#q + 1] = "command=" .. util.urlencode(a) end
  if cname then q[#q + 1] = "container=" .. util.urlencode(cname) end
  q[#q + 1] = "stdout=true"
  q[#q + 1] = "stderr=true"
  local path = path_of(self, KINDS.pods, pod.metadata.name, opts, "exec") .. "?" .. table.concat(q, "&")
  local o = request_opts(self, "GET", path)
  local what = "exec " .. table.concat(argv, " ")
  local r, refusal = require("summit.ws_exec").run(o, E.deadline(), function(code, msg)
    error(errors.new(code, string.format("%s: %s (server %s)", what, tostring(msg),
      redact.url(self:conn().server))), 0)
  end)
  if not r then return nil, refusal, what end
  local code, why = require("summit.ws_exec").exit_code(r.status)
  if not code then error(errors.new("EEXEC", what .. ": " .. why), 0) end
  return { code = code, exit_code = code, stdout = r.stdout, stderr = r.stderr,
           pod = pod.metadata.name, container = cname, protocol = r.protocol }
end

-- exec(ref, argv, { container, namespace, check }) -> { code, stdout,
-- stderr, pod, container }: over Kubernetes' WebSocket exec protocol (v5,
-- else v4) for every cluster, the simulated one included (its scripted
-- commands). Against an in-process sim whose server refuses the upgrade,
-- the scripted command runs in-process instead.
function Client:exec(ref, argv, opts)
  opts = opts or {}
  if type(argv) ~= "table" or #argv == 0 then argerr("exec", "argv", "a non-empty list") end
  return entry(self, "exec", tostring(type(ref) == "table" and ref.name or ref) .. " " .. tostring(argv[1]),
    { ref = ref, argv = argv, opts = opts }, function()
      local c = self:conn()
      local args = {}
      for i, a in ipairs(argv) do args[i] = tostring(a) end
      local r, refusal, what = ws_exec(self, ref, args, opts)
      if not r and c.sim and refusal.status == 400 then
        local target = type(ref) == "table" and (ref.kind .. "/" .. ref.name) or ref
        local err
        r, err = c.sim.exec(self:ns(opts), target, args, opts.container)
        if not r then
          local code = tostring(err.code)
          error(errors.new(code:sub(1, 1) == "E" and code or ("E" .. code:upper()), err.message,
            { reason = err.code }), 0)
        end
        r.code = r.exit_code
      elseif not r then
        error(api_error(refusal.status, refusal.body, what), 0)
      end
      if opts.check ~= false and r.code ~= 0 then
        error(errors.new("EEXIT", string.format("'%s' in pod %s exited with code %d: %s",
          table.concat(args, " "), tostring(r.pod), r.code, (r.stderr or ""):sub(1, 300)),
          { exit_code = r.code, stdout = r.stdout, stderr = r.stderr }), 0)
      end
      return r
    end)
end

return M
