-- Request bodies in Kubernetes' protobuf encoding.
--
-- kubectl's typed clients (create deployment|namespace|configmap|service,
-- ...) send POST bodies as application/vnd.kubernetes.protobuf, and
-- client-go does not fall back to JSON on a 415, so the sim decodes them:
-- the "k8s\0" envelope (a runtime.Unknown holding apiVersion, kind and
-- the raw message), then the message, by the field numbers of the
-- generated.proto files of k8s.io/api and apimachinery, into the same
-- table the JSON of the object decodes to. Only the kinds and fields
-- listed below are known; other fields are skipped, an unknown kind is
-- answered 415. Responses are always JSON (clients accept it).

local bit = require("bit")
local U = require("summit.sim.util")

local M = {}

-- ---- wire format ----------------------------------------------------------------

-- Returns the varint at pos and the position after it (two's complement
-- for the negative int32/int64 the wire gives as 10 bytes).
local function varint(s, pos)
  local v, mul = 0, 1
  while true do
    local b = s:byte(pos)
    if not b then error("truncated varint", 0) end
    pos = pos + 1
    v = v + bit.band(b, 0x7f) * mul
    if b < 0x80 then break end
    mul = mul * 128
    if mul > 2 ^ 70 then error("varint too long", 0) end
  end
  if v >= 2 ^ 63 then v = v - 2 ^ 64 end
  return v, pos
end

-- Calls fn(field, wiretype, value) for every field of the message s.
-- value: a number (varint, fixed) or a string (length-delimited).
local function fields(s, fn)
  local pos, n = 1, #s
  while pos <= n do
    local key
    key, pos = varint(s, pos)
    local field, wt = math.floor(key / 8), key % 8
    local v
    if wt == 0 then
      v, pos = varint(s, pos)
    elseif wt == 2 then
      local len
      len, pos = varint(s, pos)
      if len < 0 or pos + len - 1 > n then error("truncated field", 0) end
      v = s:sub(pos, pos + len - 1)
      pos = pos + len
    elseif wt == 1 then
      v, pos = s:sub(pos, pos + 7), pos + 8
    elseif wt == 5 then
      v, pos = s:sub(pos, pos + 3), pos + 4
    else
      error("unsupported wire type " .. wt, 0)
    end
    fn(field, wt, v)
  end
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- []byte fields are base64 in JSON.
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = {}
    for k = 3, 0, -1 do
      local idx = math.floor(n / 64 ^ k) % 64 + 1
      chars[#chars + 1] = B64:sub(idx, idx)
    end
    if not b then chars[3], chars[4] = "=", "="
    elseif not c then chars[4] = "=" end
    out[#out + 1] = table.concat(chars)
  end
  return table.concat(out)
end
M.base64 = base64   -- also Secrets' stringData -> data (resources.lua)

-- ---- schemas ----------------------------------------------------------------------
-- field number -> { name, type [, rep = true] }; types: "string",
-- "bytes", "int", "bool", "time", "intstr", "quantity", "map" (string to
-- string), "map:quantity", "map:bytes", or the name of a message below.
-- ptr = true: a pointer field in Go, whose zero value means something.

local S = {}

S.ObjectMeta = {
  [1] = { "name", "string" }, [2] = { "generateName", "string" },
  [3] = { "namespace", "string" }, [5] = { "uid", "string" },
  [6] = { "resourceVersion", "string" }, [7] = { "generation", "int" },
  [8] = { "creationTimestamp", "time" }, [11] = { "labels", "map" },
  [12] = { "annotations", "map" },
  [13] = { "ownerReferences", "OwnerReference", rep = true },
  [14] = { "finalizers", "string", rep = true },
}
S.OwnerReference = {
  [1] = { "kind", "string" }, [3] = { "name", "string" }, [4] = { "uid", "string" },
  [5] = { "apiVersion", "string" }, [6] = { "controller", "bool" },
  [7] = { "blockOwnerDeletion", "bool" },
}
S.LabelSelector = {
  [1] = { "matchLabels", "map" },
  [2] = { "matchExpressions", "LabelSelectorRequirement", rep = true },
}
S.LabelSelectorRequirement = {
  [1] = { "key", "string" }, [2] = { "operator", "string" },
  [3] = { "values", "string", rep = true },
}

S.Deployment = { [1] = { "metadata", "ObjectMeta" }, [2] = { "spec", "DeploymentSpec" },
                 [3] = { "status", "Empty" } }
S.DeploymentSpec = {
  [1] = { "replicas", "int", ptr = true }, [2] = { "selector", "LabelSelector" },
  [3] = { "template", "PodTemplateSpec" }, [4] = { "strategy", "DeploymentStrategy" },
  [5] = { "minReadySeconds", "int" }, [6] = { "revisionHistoryLimit", "int", ptr = true },
  [7] = { "paused", "bool" }, [9] = { "progressDeadlineSeconds", "int", ptr = true },
}
S.DeploymentStrategy = { [1] = { "type", "string" },
                         [2] = { "rollingUpdate", "RollingUpdateDeployment" } }
S.RollingUpdateDeployment = { [1] = { "maxUnavailable", "intstr", ptr = true },
                              [2] = { "maxSurge", "intstr", ptr = true } }
S.Empty = {}

S.PodTemplateSpec = { [1] = { "metadata", "ObjectMeta" }, [2] = { "spec", "PodSpec" } }
S.PodSpec = {
  [1] = { "volumes", "Volume", rep = true },
  [2] = { "containers", "Container", rep = true },
  [3] = { "restartPolicy", "string" }, [4] = { "terminationGracePeriodSeconds", "int", ptr = true },
  [5] = { "activeDeadlineSeconds", "int", ptr = true }, [6] = { "dnsPolicy", "string" },
  [7] = { "nodeSelector", "map" }, [8] = { "serviceAccountName", "string" },
  [10] = { "nodeName", "string" }, [16] = { "hostname", "string" },
  [19] = { "schedulerName", "string" },
  [20] = { "initContainers", "Container", rep = true },
  [24] = { "priorityClassName", "string" },
}
S.Volume = { [1] = { "name", "string" } }
S.Container = {
  [1] = { "name", "string" }, [2] = { "image", "string" },
  [3] = { "command", "string", rep = true }, [4] = { "args", "string", rep = true },
  [5] = { "workingDir", "string" }, [6] = { "ports", "ContainerPort", rep = true },
  [7] = { "env", "EnvVar", rep = true }, [8] = { "resources", "ResourceRequirements" },
  [9] = { "volumeMounts", "VolumeMount", rep = true },
  [13] = { "terminationMessagePath", "string" }, [14] = { "imagePullPolicy", "string" },
  [16] = { "stdin", "bool" }, [17] = { "stdinOnce", "bool" }, [18] = { "tty", "bool" },
  [20] = { "terminationMessagePolicy", "string" },
}
S.ContainerPort = {
  [1] = { "name", "string" }, [2] = { "hostPort", "int" },
  [3] = { "containerPort", "int" }, [4] = { "protocol", "string" },
  [5] = { "hostIP", "string" },
}
S.EnvVar = { [1] = { "name", "string" }, [2] = { "value", "string" } }
S.VolumeMount = { [1] = { "name", "string" }, [2] = { "readOnly", "bool" },
                  [3] = { "mountPath", "string" }, [4] = { "subPath", "string" } }
S.ResourceRequirements = { [1] = { "limits", "map:quantity" },
                           [2] = { "requests", "map:quantity" } }

S.Pod = { [1] = { "metadata", "ObjectMeta" }, [2] = { "spec", "PodSpec" },
          [3] = { "status", "Empty" } }
S.Namespace = { [1] = { "metadata", "ObjectMeta" }, [2] = { "spec", "NamespaceSpec" },
                [3] = { "status", "Empty" } }
S.NamespaceSpec = { [1] = { "finalizers", "string", rep = true } }
S.ConfigMap = { [1] = { "metadata", "ObjectMeta" }, [2] = { "data", "map" },
                [3] = { "binaryData", "map:bytes" }, [4] = { "immutable", "bool", ptr = true } }
S.Secret = { [1] = { "metadata", "ObjectMeta" }, [2] = { "data", "map:bytes" },
             [3] = { "type", "string" }, [4] = { "stringData", "map" },
             [5] = { "immutable", "bool", ptr = true } }
S.Service = { [1] = { "metadata", "ObjectMeta" }, [2] = { "spec", "ServiceSpec" },
              [3] = { "status", "ServiceStatus" } }
S.ServiceStatus = { [1] = { "loadBalancer", "Empty" } }
S.ServiceSpec = {
  [1] = { "ports", "ServicePort", rep = true }, [2] = { "selector", "map" },
  [3] = { "clusterIP", "string" }, [4] = { "type", "string" },
  [5] = { "externalIPs", "string", rep = true }, [7] = { "sessionAffinity", "string" },
  [10] = { "externalName", "string" }, [18] = { "clusterIPs", "string", rep = true },
}
S.ServicePort = {
  [1] = { "name", "string" }, [2] = { "protocol", "string" }, [3] = { "port", "int" },
  [4] = { "targetPort", "intstr" }, [5] = { "nodePort", "int" },
  [6] = { "appProtocol", "string" },
}

-- The kinds accepted, by apiVersion/kind.
local KINDS = {
  ["apps/v1/Deployment"] = "Deployment", ["v1/Pod"] = "Pod",
  ["v1/Namespace"] = "Namespace", ["v1/ConfigMap"] = "ConfigMap",
  ["v1/Service"] = "Service", ["v1/Secret"] = "Secret",
}

-- ---- decoding -----------------------------------------------------------------------

local decode_msg

local function map_entry(s, vtype)
  local k, v = "", nil
  fields(s, function(f, _, x)
    if f == 1 then k = x elseif f == 2 then v = x end
  end)
  if vtype == "quantity" then
    local q = ""
    if v then fields(v, function(f, _, x) if f == 1 then q = x end end) end
    v = q
  elseif vtype == "bytes" then
    v = base64(v or "")
  else
    v = v or ""
  end
  return k, v
end

local function scalar(typ, wt, v)
  if typ == "string" then return v end
  if typ == "bytes" then return base64(v) end
  if typ == "int" then return v end
  if typ == "bool" then return v ~= 0 end
  if typ == "time" then
    local secs = 0
    fields(v, function(f, _, x) if f == 1 then secs = x end end)
    if secs == 0 then return nil end
    return U.rfc3339(secs * 1000)
  end
  if typ == "intstr" then
    local t, i, str = 0, 0, ""
    fields(v, function(f, _, x)
      if f == 1 then t = x elseif f == 2 then i = x elseif f == 3 then str = x end
    end)
    if t == 1 then return str end
    return i
  end
  return nil
end

decode_msg = function(name, s)
  local schema = S[name]
  local obj = {}
  fields(s, function(f, wt, v)
    local fd = schema[f]
    if not fd then return end
    local fname, typ = fd[1], fd[2]
    local value
    if typ == "map" or typ:match("^map:") then
      local m = obj[fname] or {}
      local k, x = map_entry(v, typ:match("^map:(.*)$"))
      m[k] = x
      obj[fname] = m
      return
    elseif S[typ] then
      value = decode_msg(typ, v)
    else
      value = scalar(typ, wt, v)
    end
    if fd.rep then
      local list = obj[fname] or U.A()
      list[#list + 1] = value
      obj[fname] = list
    elseif value ~= nil and (fd.ptr or (value ~= "" and value ~= 0 and value ~= false)) then
      -- Go marshals every non-pointer field, zero or not; its JSON leaves
      -- the zero ones out (omitempty), and so does this.
      obj[fname] = value
    end
  end)
  return obj
end

-- decode(body) -> object | nil, message
function M.decode(body)
  if body:sub(1, 4) ~= "k8s\0" then return nil, "not a Kubernetes protobuf body" end
  local ok, res, err = pcall(function()
    local api_version, kind, raw = "", "", ""
    fields(body:sub(5), function(f, _, v)
      if f == 1 then
        fields(v, function(g, _, x)
          if g == 1 then api_version = x elseif g == 2 then kind = x end
        end)
      elseif f == 2 then
        raw = v
      end
    end)
    local msg = KINDS[api_version .. "/" .. kind]
    if not msg then
      return nil, string.format("protobuf bodies of %s %s are not simulated; send JSON",
                                api_version, kind)
    end
    local obj = decode_msg(msg, raw)
    obj.apiVersion, obj.kind = api_version, kind
    return obj
  end)
  if not ok then return nil, "malformed protobuf body: " .. tostring(res) end
  return res, err
end

return M
