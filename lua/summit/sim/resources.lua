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
  -- Route objects: what the traffic generator sends requests through
  -- (sim/traffic.lua) and summit.rollout's routers set weights on. The
  -- last three are custom resources in a real cluster (Gateway API, Istio,
  -- SMI); the sim serves them as built in, in their own groups.
  { name = "ingresses", singular = "ingress", kind = "Ingress",
    group = "networking.k8s.io", version = "v1", namespaced = true,
    short = { "ing" }, verbs = RW },
  { name = "httproutes", singular = "httproute", kind = "HTTPRoute",
    group = "gateway.networking.k8s.io", version = "v1", namespaced = true,
    categories = { "gateway-api" }, verbs = RW },
  { name = "virtualservices", singular = "virtualservice", kind = "VirtualService",
    group = "networking.istio.io", version = "v1", namespaced = true,
    short = { "vs" }, categories = { "istio-io", "networking-istio-io" }, verbs = RW },
  { name = "trafficsplits", singular = "trafficsplit", kind = "TrafficSplit",
    group = "split.smi-spec.io", version = "v1alpha2", namespaced = true,
    short = { "ts" }, verbs = RW },
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

-- ---- typed decoding -----------------------------------------------------------------
-- The API server decodes every body into Go structs before it validates
-- anything: a number that does not fit an int32 field (2.5, 1e300, a
-- string) is a decode error, not a validation error, and its message is
-- Go's (sigs.k8s.io/json, apimachinery's unstructured converter).
-- Without this the sim stored replicas = 1e300 and its controller tried
-- to create that many pods.

local INT32_MIN, INT32_MAX = -2147483648, 2147483647
M.INT32_MAX = INT32_MAX

-- Go's formatting of a float64: json = encoding/json (%f, or %e from
-- 1e21 on: "1e+300"), otherwise fmt's %v ("2.5", "1e+06").
function M.go_float(x, json_style)
  if x ~= x then return "NaN" end
  if x == math.huge then return "+Inf" elseif x == -math.huge then return "-Inf" end
  local s
  for prec = 1, 17 do   -- the shortest repr that reads back as x
    s = string.format("%." .. prec .. "e", x)
    if tonumber(s) == x then break end
  end
  local sign, mant, exp = s:match("^(-?)([%d%.]+)e([-+]%d+)$")
  exp = tonumber(exp)
  local digits = mant:gsub("%.", ""):gsub("0+$", "")
  if digits == "" then digits = "0" end
  local ax = math.abs(x)
  local use_e
  if json_style then
    use_e = ax ~= 0 and (ax < 1e-6 or ax >= 1e21)
  else
    use_e = exp < -4 or exp >= 6   -- strconv's 'g', shortest
  end
  if use_e then
    local m = digits:sub(1, 1) .. (#digits > 1 and ("." .. digits:sub(2)) or "")
    -- encoding/json writes e-7 where strconv writes e-07.
    local ew = (json_style and exp < 0) and "%d" or "%02d"
    return string.format("%s%se%s" .. ew, sign, m, exp < 0 and "-" or "+", math.abs(exp))
  end
  local out
  if exp >= 0 then
    if #digits <= exp + 1 then
      out = digits .. string.rep("0", exp + 1 - #digits)
    else
      out = digits:sub(1, exp + 1) .. "." .. digits:sub(exp + 2)
    end
  else
    out = "0." .. string.rep("0", -exp - 1) .. digits
  end
  return sign .. out
end

-- The int32 fields the sim reads, per kind (the ones its controller and
-- validation act on): where they are ("*" = every element of a list),
-- the Go struct that holds them, and whether they are IntOrString.
local INT32 = {
  Deployment = {
    { "spec.replicas", "DeploymentSpec" },
    { "spec.minReadySeconds", "DeploymentSpec" },
    { "spec.revisionHistoryLimit", "DeploymentSpec" },
    { "spec.progressDeadlineSeconds", "DeploymentSpec" },
    { "spec.strategy.rollingUpdate.maxUnavailable", "RollingUpdateDeployment", true },
    { "spec.strategy.rollingUpdate.maxSurge", "RollingUpdateDeployment", true },
    { "spec.template.spec.containers.*.ports.*.containerPort", "ContainerPort" },
    { "spec.template.spec.containers.*.ports.*.hostPort", "ContainerPort" },
  },
  Pod = {
    { "spec.containers.*.ports.*.containerPort", "ContainerPort" },
    { "spec.containers.*.ports.*.hostPort", "ContainerPort" },
  },
  Service = {
    { "spec.ports.*.port", "ServicePort" },
    { "spec.ports.*.nodePort", "ServicePort" },
    { "spec.ports.*.targetPort", "ServicePort", true },
  },
  Scale = {
    { "spec.replicas", "ScaleSpec" },
  },
}
for _, list in pairs(INT32) do
  for _, f in ipairs(list) do
    f.segs = {}
    for seg in f[1]:gmatch("[^%.]+") do f.segs[#f.segs + 1] = seg end
    -- Go's error names the JSON field path without list indexes.
    f.go_path = f[1]:gsub("%.%*", "")
  end
end

-- What Go's decoder calls a JSON value that does not fit an int32, or
-- nil if it fits (strings fit an IntOrString).
local function misfit(v, intstr)
  local t = type(v)
  if t == "number" then
    if v == math.floor(v) and v >= INT32_MIN and v <= INT32_MAX then return nil end
    return "number " .. M.go_float(v, true), true
  elseif t == "string" then
    return not intstr and "string" or nil
  elseif t == "boolean" then
    return "bool"
  elseif t == "table" then
    return U.is_array(v) and "array" or "object"
  end
  return nil   -- absent or null: Go leaves the field unset
end

-- The first int32 field of obj (a kind above) that Go would fail to
-- decode, as { what = "number 2.5", field = "spec.replicas",
-- struct = "DeploymentSpec", intstr, number }; nil if all fit.
function M.int32_misfit(kind, obj)
  for _, f in ipairs(INT32[kind] or {}) do
    local found
    local function walk(v, i)
      if found then return end
      if i > #f.segs then
        local what, num = misfit(v, f[3])
        if what then
          found = { what = what, field = f.go_path, struct = f[2],
                    intstr = f[3] == true, number = num == true }
        end
        return
      end
      if type(v) ~= "table" then return end
      if f.segs[i] == "*" then
        for _, x in ipairs(v) do walk(x, i + 1) end
      else
        walk(v[f.segs[i]], i + 1)
      end
    end
    walk(obj, 1)
    if found then return found end
  end
  return nil
end

-- The message of encoding/json (bodies, JSON and merge patches).
function M.json_misfit_message(e)
  return string.format("json: cannot unmarshal %s into Go struct field %s.%s of type int32",
                       e.what, e.struct, e.field)
end

-- The message of the unstructured converter (strategic merge patches):
-- a fractional number "cannot convert", any other type is
-- "unrecognized", an IntOrString goes through its JSON unmarshaller.
function M.converter_misfit_message(e)
  if e.intstr then
    return "error decoding from json: json: cannot unmarshal " .. e.what ..
      " into Go value of type int32"
  end
  if e.number then return "cannot convert float64 to int32" end
  return "unrecognized type: int32"
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

-- A bad value as apimachinery's field errors print it (%v for numbers,
-- %q for strings).
local function go_value(v)
  if type(v) == "number" then
    return v == math.floor(v) and string.format("%d", v) or M.go_float(v)
  end
  return string.format("%q", tostring(v))
end

-- ValidateNonnegativeField.
local function nonnegative(causes, field, v)
  if type(v) == "number" and v < 0 then
    cause(causes, field, "FieldValueInvalid", "Invalid value: " .. go_value(v) ..
          ": must be greater than or equal to 0")
  end
end

-- ValidatePositiveIntOrPercent; returns the value (percent or int), or
-- nil if it is neither.
local function int_or_percent(causes, field, v)
  if type(v) == "number" then
    nonnegative(causes, field, v)
    return v
  elseif type(v) == "string" then
    local pct = v:match("^(%d+)%%$")
    if not pct then
      cause(causes, field, "FieldValueInvalid", "Invalid value: " .. go_value(v) ..
            ": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")
      return nil
    end
    return tonumber(pct)
  end
  return nil
end

-- Container ports (ValidatePortNumOrName for containerPort).
local function check_ports(causes, c, at)
  for j, p in ipairs(type(c.ports) == "table" and c.ports or {}) do
    if type(p) == "table" and type(p.containerPort) == "number" and
       (p.containerPort < 1 or p.containerPort > 65535) then
      cause(causes, string.format("%s.ports[%d].containerPort", at, j - 1),
            "FieldValueInvalid", "Invalid value: " .. go_value(p.containerPort) ..
            ": must be between 1 and 65535, inclusive")
    end
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
      check_ports(causes, c, at)
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
  -- int32 fields have decoded (M.int32_misfit) before validation runs:
  -- here they are integers in range; apps validation wants them >= 0.
  for _, f in ipairs({ "replicas", "minReadySeconds", "revisionHistoryLimit",
                       "progressDeadlineSeconds" }) do
    nonnegative(causes, "spec." .. f, spec[f])
  end
  local ru = U.dig(spec, { "strategy", "rollingUpdate" })
  if type(ru) == "table" then
    local at = "spec.strategy.rollingUpdate."
    local mu = int_or_percent(causes, at .. "maxUnavailable", ru.maxUnavailable)
    local ms = int_or_percent(causes, at .. "maxSurge", ru.maxSurge)
    if mu == 0 and ms == 0 then
      cause(causes, at .. "maxUnavailable", "FieldValueInvalid",
            "Invalid value: " .. go_value(ru.maxUnavailable) .. ": may not be 0 when `maxSurge` is 0")
    end
    if type(ru.maxUnavailable) == "string" and mu and mu > 100 then
      cause(causes, at .. "maxUnavailable", "FieldValueInvalid",
            "Invalid value: " .. go_value(ru.maxUnavailable) .. ": must not be greater than 100%")
    end
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
     type(spec.minReadySeconds) == "number" and
     spec.progressDeadlineSeconds <= spec.minReadySeconds then
    cause(causes, "spec.progressDeadlineSeconds", "FieldValueInvalid",
          "Invalid value: " .. go_value(spec.progressDeadlineSeconds) ..
          ": must be greater than minReadySeconds")
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
            "Invalid value: " .. go_value(type(p) == "table" and p.port or 0) ..
            ": must be between 1 and 65535, inclusive")
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
  for _, e in ipairs(require("summit.sim.routes").check(kind, obj)) do
    cause(causes, e.field, e.message:match("^Required") and "FieldValueRequired" or "FieldValueInvalid",
          e.message)
  end
  return causes
end

return M
