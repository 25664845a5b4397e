-- The resource types the simulated cluster serves: their names as
-- discovery announces them, the defaults the API server fills in on
-- write, and the validation that answers 422 Invalid.

local U = require("summit.sim.util")

local M = {}

local RW = { "create", "delete", "deletecollection", "get", "list", "patch",
             "update", "watch" }
local RO = { "get", "list", "watch" }

-- Ordered as discovery lists them. group "" is the core group.
M.list = {
  { name = "namespaces", singular = "namespace", kind = "Namespace",
    group = "", version = "v1", namespaced = false, short = { "ns" },
    verbs = { "create", "delete", "get", "list", "patch", "update", "watch" } },
  { name = "pods", singular = "pod", kind = "Pod", group = "", version = "v1",
    namespaced = true, short = { "po" }, categories = { "all" }, verbs = RW,
    subresources = {
      { name = "log", kind = "Pod", verbs = { "get" } },
      { name = "exec", kind = "PodExecOptions", verbs = { "create", "get" } },
      { name = "status", kind = "Pod", verbs = { "get" } },
    } },
  { name = "services", singular = "service", kind = "Service", group = "",
    version = "v1", namespaced = true, short = { "svc" },
    categories = { "all" }, verbs = RW },
  { name = "configmaps", singular = "configmap", kind = "ConfigMap",
    group = "", version = "v1", namespaced = true, short = { "cm" },
    verbs = RW },
  { name = "events", singular = "event", kind = "Event", group = "",
    version = "v1", namespaced = true, short = { "ev" }, verbs = RW },
  { name = "secrets", singular = "secret", kind = "Secret", group = "",
    version = "v1", namespaced = true, verbs = RW },
  { name = "deployments", singular = "deployment", kind = "Deployment",
    group = "apps", version = "v1", namespaced = true, short = { "deploy" },
    categories = { "all" }, verbs = RW,
    subresources = {
      { name = "scale", kind = "Scale", group = "autoscaling",
        version = "v1", verbs = { "get", "patch", "update" } },
      { name = "status", kind = "Deployment", verbs = { "get" } },
    } },
  { name = "replicasets", singular = "replicaset", kind = "ReplicaSet",
    group = "apps", version = "v1", namespaced = true, short = { "rs" },
    categories = { "all" }, verbs = RO,
    subresources = {
      { name = "status", kind = "ReplicaSet", verbs = { "get" } },
    } },
}

M.by_name = {}
for _, r in ipairs(M.list) do
  r.api_version = r.group == "" and r.version or (r.group .. "/" .. r.version)
  -- How errors name the resource: "deployments.apps", "pods".
  r.qualified = r.group == "" and r.name or (r.name .. "." .. r.group)
  r.list_kind = r.kind .. "List"
  M.by_name[r.group .. "/" .. r.name] = r
end

function M.find(group, name) return M.by_name[group .. "/" .. name] end

-- ---- defaults ---------------------------------------------------------------------

local function default_container(c)
  if type(c) ~= "table" then return end
  if c.image and not c.imagePullPolicy then
    -- The API server's rule: a :latest (or untagged) image is pulled always.
    local tag = c.image:match(":([^/:]+)$")
    c.imagePullPolicy = (tag == nil or tag == "latest") and "Always" or
      "IfNotPresent"
  end
  c.terminationMessagePath = c.terminationMessagePath or "/dev/termination-log"
  c.terminationMessagePolicy = c.terminationMessagePolicy or "File"
  if type(c.resources) ~= "table" then c.resources = {} end
  for _, p in ipairs(c.ports or {}) do
    if type(p) == "table" then p.protocol = p.protocol or "TCP" end
  end
end

-- Pod spec defaults, as the API server fills them in (pkg/apis/core/v1
-- defaults.go), so a template read back hashes like the one written.
function M.default_pod_spec(spec)
  if type(spec) ~= "table" then return end
  for _, c in ipairs(spec.containers or {}) do default_container(c) end
  for _, c in ipairs(spec.initContainers or {}) do default_container(c) end
  spec.restartPolicy = spec.restartPolicy or "Always"
  spec.terminationGracePeriodSeconds = spec.terminationGracePeriodSeconds or 30
  spec.dnsPolicy = spec.dnsPolicy or "ClusterFirst"
  spec.schedulerName = spec.schedulerName or "default-scheduler"
  if type(spec.securityContext) ~= "table" then spec.securityContext = {} end
end

local function default_template(t)
  if type(t) ~= "table" then return end
  if type(t.metadata) ~= "table" then t.metadata = {} end
  M.default_pod_spec(t.spec)
end

local DEFAULTS = {}

function DEFAULTS.Deployment(obj)
  local spec = U.sub(obj, "spec")
  if spec.replicas == nil then spec.replicas = 1 end
  local st = U.sub(spec, "strategy")
  if st.type == nil then st.type = "RollingUpdate" end
  if st.type == "RollingUpdate" then
    local ru = U.sub(st, "rollingUpdate")
    if ru.maxSurge == nil then ru.maxSurge = "25%" end
    if ru.maxUnavailable == nil then ru.maxUnavailable = "25%" end
  end
  if spec.revisionHistoryLimit == nil then spec.revisionHistoryLimit = 10 end
  if spec.progressDeadlineSeconds == nil then spec.progressDeadlineSeconds = 600 end
  default_template(spec.template)
end

function DEFAULTS.Pod(obj)
  M.default_pod_spec(U.sub(obj, "spec"))
end

function DEFAULTS.Service(obj)
  local spec = U.sub(obj, "spec")
  spec.type = spec.type or "ClusterIP"
  spec.sessionAffinity = spec.sessionAffinity or "None"
  for _, p in ipairs(spec.ports or {}) do
    if type(p) == "table" then
      p.protocol = p.protocol or "TCP"
      if p.targetPort == nil then p.targetPort = p.port end
    end
  end
end

-- stringData is write-only: the API server folds it into data (base64),
-- its keys winning, and never returns it.
function DEFAULTS.Secret(obj)
  if obj.type == nil then obj.type = "Opaque" end
  if type(obj.stringData) == "table" and not U.is_array(obj.stringData) then
    local data = type(obj.data) == "table" and obj.data or {}
    for k, v in pairs(obj.stringData) do
      if type(v) == "string" then data[k] = require("summit.sim.protobuf").base64(v) end
    end
    obj.data = data
    obj.stringData = nil
  end
end

-- Fills in what the API server would (never overwriting what is set).
function M.apply_defaults(kind, obj)
  local f = DEFAULTS[kind]
  if f then f(obj) end
end

-- ---- validation ---------------------------------------------------------------------

-- RFC 1123 names: lower-case alphanumerics and '-' (and '.' in a
-- subdomain), starting and ending with an alphanumeric.
local function dns1123(name, label)
  local chars = label and "^[-a-z0-9]+$" or "^[-a-z0-9%.]+$"
  return name:match(chars) ~= nil and name:match("^[a-z0-9]") ~= nil and
    name:match("[a-z0-9]$") ~= nil
end

local function cause(causes, field, reason, message)
  causes[#causes + 1] = { field = field, reason = reason, message = message }
end

local function check_name(causes, name, label)
  if type(name) ~= "string" or name == "" then
    cause(causes, "metadata.name", "FieldValueRequired", "Required value: name or generateName is required")
  elseif #name > (label and 63 or 253) or not dns1123(name, label) then
    cause(causes, "metadata.name", "FieldValueInvalid", string.format(
      "Invalid value: %q: a lowercase RFC 1123 %s must consist of lower case alphanumeric characters, '-'%s, and must start and end with an alphanumeric character",
      name, label and "label" or "subdomain", label and "" or " or '.'"))
  end
end

local function check_containers(causes, spec, prefix)
  local cs = type(spec) == "table" and spec.containers
  if type(cs) ~= "table" or #cs == 0 then
    cause(causes, prefix .. ".containers", "FieldValueRequired", "Required value")
    return
  end
  local seen = {}
  for i, c in ipairs(cs) do
    local at = string.format("%s.containers[%d]", prefix, i - 1)
    if type(c) ~= "table" then
      cause(causes, at, "FieldValueInvalid", "Invalid value: must be an object")
    else
      if type(c.name) ~= "string" or c.name == "" then
        cause(causes, at .. ".name", "FieldValueRequired", "Required value")
      elseif seen[c.name] then
        cause(causes, at .. ".name", "FieldValueDuplicate",
              string.format("Duplicate value: %q", c.name))
      else
        seen[c.name] = true
      end
      if type(c.image) ~= "string" or c.image == "" then
        cause(causes, at .. ".image", "FieldValueRequired", "Required value")
      end
      for j, e in ipairs(c.env or {}) do
        if type(e) ~= "table" or type(e.name) ~= "string" or e.name == "" then
          cause(causes, string.format("%s.env[%d].name", at, j - 1),
                "FieldValueRequired", "Required value")
        end
      end
    end
  end
end

local VALIDATE = {}

function VALIDATE.Deployment(obj, causes)
  local spec = obj.spec
  if type(spec) ~= "table" then
    cause(causes, "spec", "FieldValueRequired", "Required value")
    return
  end
  if type(spec.replicas) ~= "number" or spec.replicas < 0 or
     spec.replicas ~= math.floor(spec.replicas) then
    cause(causes, "spec.replicas", "FieldValueInvalid",
          "Invalid value: must be greater than or equal to 0")
  end
  local sel = spec.selector
  local has_sel = type(sel) == "table" and
    ((type(sel.matchLabels) == "table" and next(sel.matchLabels) ~= nil) or
     (type(sel.matchExpressions) == "table" and #sel.matchExpressions > 0))
  if not has_sel then
    cause(causes, "spec.selector", "FieldValueRequired", "Required value")
  end
  local t = spec.template
  if type(t) ~= "table" then
    cause(causes, "spec.template", "FieldValueRequired", "Required value")
    return
  end
  local labels = U.dig(t, { "metadata", "labels" }) or {}
  if has_sel then
    local SEL = require("summit.sim.selector")
    if not SEL.match_labels(SEL.from_label_selector(sel), labels) then
      local parts = {}
      for _, k in ipairs(U.keys(labels)) do
        parts[#parts + 1] = string.format("%q:%q", k, labels[k])
      end
      cause(causes, "spec.template.metadata.labels", "FieldValueInvalid",
            "Invalid value: map[string]string{" .. table.concat(parts, ", ") ..
            "}: `selector` does not match template `labels`")
    end
  end
  check_containers(causes, t.spec, "spec.template.spec")
  if type(spec.progressDeadlineSeconds) == "number" and
     type(spec.template) == "table" and spec.minReadySeconds and
     spec.progressDeadlineSeconds <= spec.minReadySeconds then
    cause(causes, "spec.progressDeadlineSeconds", "FieldValueInvalid",
          "Invalid value: must be greater than minReadySeconds")
  end
end

function VALIDATE.Pod(obj, causes)
  check_containers(causes, obj.spec, "spec")
end

function VALIDATE.Service(obj, causes)
  local spec = obj.spec
  if type(spec) ~= "table" then
    cause(causes, "spec", "FieldValueRequired", "Required value")
    return
  end
  local ports = spec.ports
  if spec.type ~= "ExternalName" and (type(ports) ~= "table" or #ports == 0) then
    cause(causes, "spec.ports", "FieldValueRequired", "Required value")
  end
  for i, p in ipairs(ports or {}) do
    if type(p) ~= "table" or type(p.port) ~= "number" or p.port < 1 or p.port > 65535 then
      cause(causes, string.format("spec.ports[%d].port", i - 1), "FieldValueInvalid",
            "Invalid value: must be between 1 and 65535, inclusive")
    end
  end
  if spec.selector ~= nil and type(spec.selector) ~= "table" then
    cause(causes, "spec.selector", "FieldValueInvalid", "Invalid value: must be a map")
  end
end

function VALIDATE.ConfigMap(obj, causes)
  for _, f in ipairs({ "data", "binaryData" }) do
    local d = obj[f]
    if d ~= nil then
      if type(d) ~= "table" or U.is_array(d) then
        cause(causes, f, "FieldValueInvalid", "Invalid value: must be a map of strings")
      else
        for k, v in pairs(d) do
          if type(v) ~= "string" then
            cause(causes, f .. "[" .. tostring(k) .. "]", "FieldValueInvalid",
                  "Invalid value: must be a string")
          end
        end
      end
    end
  end
end

function VALIDATE.Secret(obj, causes)
  local d = obj.data
  if d == nil then return end
  if type(d) ~= "table" or U.is_array(d) then
    cause(causes, "data", "FieldValueInvalid", "Invalid value: must be a map of base64 strings")
    return
  end
  for k, v in pairs(d) do
    if type(v) ~= "string" or not v:match("^[A-Za-z0-9+/]*=?=?$") or #v % 4 ~= 0 then
      cause(causes, "data[" .. tostring(k) .. "]", "FieldValueInvalid",
            "Invalid value: must be base64-encoded bytes")
    end
  end
end

-- Returns the causes of a 422 (empty when the object is valid).
function M.validate(kind, obj)
  local causes = {}
  local label = kind == "Namespace" or kind == "Service"
  check_name(causes, U.dig(obj, { "metadata", "name" }), label)
  local md = obj.metadata or {}
  for _, f in ipairs({ "labels", "annotations" }) do
    local m = md[f]
    if m ~= nil then
      if type(m) ~= "table" or U.is_array(m) then
        cause(causes, "metadata." .. f, "FieldValueInvalid", "Invalid value: must be a map")
      else
        for k, v in pairs(m) do
          if type(v) ~= "string" then
            cause(causes, "metadata." .. f .. "[" .. tostring(k) .. "]",
                  "FieldValueInvalid", "Invalid value: must be a string")
          end
        end
      end
    end
  end
  local f = VALIDATE[kind]
  if f then f(obj, causes) end
  return causes
end

return M
