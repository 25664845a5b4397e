-- Server-side printing: the meta.k8s.io/v1 Table that `kubectl get`
-- asks for (Accept: ...;as=Table). Column sets and cell formats follow
-- kubernetes pkg/printers/internalversion/printers.go; priority 1 columns
-- only show with -o wide.

local U = require("summit.sim.util")
local SEL = require("summit.sim.selector")
local ROUTES = require("summit.sim.routes")

local M = {}

local function col(name, typ, priority, format, description)
  return { name = name, type = typ, format = format or "",
           description = description or "", priority = priority or 0 }
end

local NAME = col("Name", "string", 0, "name",
                 "Name must be unique within a namespace.")
local AGE = col("Age", "string", 0, "",
                "CreationTimestamp is a timestamp representing the server time when this object was created.")

-- Workloads that run pods from a template (Deployments, ReplicaSets) end
-- their tables alike: Age, then the wide Containers, Images and Selector.
local CONTAINERS = col("Containers", "string", 1, "", "Names of each container in the template.")
local IMAGES = col("Images", "string", 1, "", "Images referenced by each container in the template.")

-- workload_columns(own, selector) -> Name, the own columns, Age, Containers,
-- Images and a Selector column described as `selector`.
local function workload_columns(own, selector)
  local cols = { NAME }
  for _, c in ipairs(own) do cols[#cols + 1] = c end
  cols[#cols + 1] = AGE
  cols[#cols + 1] = CONTAINERS
  cols[#cols + 1] = IMAGES
  cols[#cols + 1] = col("Selector", "string", 1, "", selector)
  return cols
end

-- workload_row(obj, now, cells) -> cells followed by those four cells.
local function workload_row(obj, now, cells)
  local names, images = {}, {}
  for _, c in ipairs(U.dig(obj, { "spec", "template", "spec", "containers" }) or {}) do
    names[#names + 1] = c.name
    images[#images + 1] = c.image
  end
  local n = #cells
  cells[n + 1] = U.age(obj.metadata.creationTimestamp, now)
  cells[n + 2] = table.concat(names, ",")
  cells[n + 3] = table.concat(images, ",")
  cells[n + 4] = SEL.label_selector_string(U.dig(obj, { "spec", "selector" }))
  return cells
end

local COLUMNS, ROW = {}, {}

COLUMNS.deployments = workload_columns({
  col("Ready", "string", 0, "", "Number of the pod with ready state"),
  col("Up-to-date", "integer", 0, "", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
  col("Available", "integer", 0, "", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
}, "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.")
function ROW.deployments(d, now)
  local s = d.status or {}
  return workload_row(d, now, { d.metadata.name,
    string.format("%d/%d", s.readyReplicas or 0, U.dig(d, { "spec", "replicas" }) or 0),
    s.updatedReplicas or 0, s.availableReplicas or 0 })
end

COLUMNS.replicasets = workload_columns({
  col("Desired", "integer", 0, "", "Number of desired pods."),
  col("Current", "integer", 0, "", "Number of actual replicas."),
  col("Ready", "integer", 0, "", "The number of ready replicas for this replica set."),
}, "Selector is a label query over pods that should match the replica count.")
function ROW.replicasets(rs, now)
  local s = rs.status or {}
  return workload_row(rs, now, { rs.metadata.name, U.dig(rs, { "spec", "replicas" }) or 0,
    s.replicas or 0, s.readyReplicas or 0 })
end

COLUMNS.pods = {
  NAME, col("Ready", "string", 0, "", "The aggregate readiness state of this pod for accepting traffic."),
  col("Status", "string", 0, "", "The aggregate status of the containers in this pod."),
  col("Restarts", "string", 0, "", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
  AGE,
  col("IP", "string", 1, "", "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."),
  col("Node", "string", 1, "", "NodeName is a request to schedule this pod onto a specific node."),
  col("Nominated Node", "string", 1, "", "nominatedNodeName is set only when this pod preempts other pods on the node."),
  col("Readiness Gates", "string", 1, "", "If specified, all readiness gates will be evaluated for pod readiness."),
}

-- The STATUS column as printPod works it out: the phase, overridden by a
-- waiting or terminated container's reason, "Terminating" when deleting.
function M.pod_status(p)
  local s = p.status or {}
  local reason = s.reason or s.phase or "Unknown"
  for _, cs in ipairs(s.containerStatuses or {}) do
    local w = U.dig(cs, { "state", "waiting", "reason" })
    local t = U.dig(cs, { "state", "terminated", "reason" })
    if w and w ~= "" then reason = w
    elseif t and t ~= "" then reason = t end
  end
  if p.metadata.deletionTimestamp then reason = "Terminating" end
  return reason
end

function ROW.pods(p, now)
  local s = p.status or {}
  local total, ready, restarts, last = 0, 0, 0, nil
  for _, cs in ipairs(s.containerStatuses or {}) do
    total = total + 1
    if cs.ready then ready = ready + 1 end
    restarts = restarts + (cs.restartCount or 0)
    local fin = U.parse_time(U.dig(cs, { "lastState", "terminated", "finishedAt" }))
    if fin and (not last or fin > last) then last = fin end
  end
  if total == 0 then total = #(U.dig(p, { "spec", "containers" }) or {}) end
  local rcell = tostring(restarts)
  if restarts > 0 and last then
    rcell = string.format("%d (%s ago)", restarts, U.human_duration((now - last) / 1000))
  end
  return { p.metadata.name, string.format("%d/%d", ready, total), M.pod_status(p),
           rcell, U.age(p.metadata.creationTimestamp, now), s.podIP or "<none>",
           U.dig(p, { "spec", "nodeName" }) or "<none>", "<none>", "<none>" }
end

COLUMNS.services = {
  NAME, col("Type", "string", 0, "", "The type of the service."),
  col("Cluster-IP", "string", 0, "", "The IP address of the service."),
  col("External-IP", "string", 0, "", "The external IP address of the service."),
  col("Port(s)", "string", 0, "", "The ports of the service."),
  AGE,
  col("Selector", "string", 1, "", "Route service traffic to pods with label keys and values matching this selector."),
}
function ROW.services(sv, now)
  local spec = sv.spec or {}
  local ports = {}
  for _, p in ipairs(spec.ports or {}) do
    local s = tostring(p.port)
    if p.nodePort then s = s .. ":" .. p.nodePort end
    ports[#ports + 1] = s .. "/" .. (p.protocol or "TCP")
  end
  local sel = {}
  for _, k in ipairs(U.keys(spec.selector or {})) do
    sel[#sel + 1] = k .. "=" .. spec.selector[k]
  end
  return { sv.metadata.name, spec.type or "ClusterIP", spec.clusterIP or "<none>",
           "<none>", #ports > 0 and table.concat(ports, ",") or "<none>",
           U.age(sv.metadata.creationTimestamp, now),
           #sel > 0 and table.concat(sel, ",") or "<none>" }
end

-- Route objects: the columns of their CRDs' additionalPrinterColumns (and
-- kubectl's Ingress printer), plus a wide Backends column of the weights.
local BACKENDS = col("Backends", "string", 1, "", "The backend Services and their weights.")
local function backends_cell(rules)
  local parts = {}
  for _, list in ipairs(rules) do
    for _, b in ipairs(list) do parts[#parts + 1] = b.service .. "=" .. tostring(b.weight) end
  end
  return #parts > 0 and table.concat(parts, ",") or "<none>"
end
local function joined(list) return list and #list > 0 and table.concat(list, ",") or "" end

COLUMNS.httproutes = { NAME, col("Hostnames", "string", 0, "", "Hostnames of the route."), AGE, BACKENDS }
function ROW.httproutes(r, now)
  return { r.metadata.name, joined(U.dig(r, { "spec", "hostnames" })),
           U.age(r.metadata.creationTimestamp, now), backends_cell(ROUTES.rules("httproutes", r)) }
end
COLUMNS.virtualservices = {
  NAME, col("Gateways", "string", 0, "", "The names of gateways and sidecars that should apply these routes"),
  col("Hosts", "string", 0, "", "The destination hosts to which traffic is being sent"), AGE, BACKENDS,
}
function ROW.virtualservices(v, now)
  return { v.metadata.name, joined(U.dig(v, { "spec", "gateways" })), joined(U.dig(v, { "spec", "hosts" })),
           U.age(v.metadata.creationTimestamp, now), backends_cell(ROUTES.rules("virtualservices", v)) }
end
COLUMNS.trafficsplits = { NAME, col("Service", "string", 0, "", "The apex service of this split."), AGE, BACKENDS }
function ROW.trafficsplits(t, now)
  return { t.metadata.name, U.dig(t, { "spec", "service" }) or "",
           U.age(t.metadata.creationTimestamp, now), backends_cell(ROUTES.rules("trafficsplits", t)) }
end
COLUMNS.ingresses = {
  NAME, col("Class", "string", 0, "", "The name of the IngressClass resource."),
  col("Hosts", "string", 0, "", "Hosts that incoming requests are matched against."),
  col("Address", "string", 0, "", "Address is a list containing ingress points for the load-balancer."),
  col("Ports", "string", 0, "", "Ports of TLS configurations that open."), AGE,
}
function ROW.ingresses(ing, now)
  local hosts = {}
  for _, r in ipairs(U.dig(ing, { "spec", "rules" }) or {}) do hosts[#hosts + 1] = r.host or "*" end
  return { ing.metadata.name, U.dig(ing, { "spec", "ingressClassName" }) or "<none>",
           #hosts > 0 and table.concat(hosts, ",") or "*", "",
           U.dig(ing, { "spec", "tls" }) and "80, 443" or "80", U.age(ing.metadata.creationTimestamp, now) }
end

COLUMNS.configmaps = {
  NAME, col("Data", "integer", 0, "", "Data contains the configuration data."), AGE,
}
function ROW.configmaps(cm, now)
  local n = 0
  for _ in pairs(cm.data or {}) do n = n + 1 end
  for _ in pairs(cm.binaryData or {}) do n = n + 1 end
  return { cm.metadata.name, n, U.age(cm.metadata.creationTimestamp, now) }
end

COLUMNS.secrets = {
  NAME, col("Type", "string", 0, "", "The type of secret"),
  col("Data", "integer", 0, "", "Data contains the secret data."), AGE,
}
function ROW.secrets(sc, now)
  local n = 0
  for _ in pairs(sc.data or {}) do n = n + 1 end
  return { sc.metadata.name, sc.type or "Opaque", n, U.age(sc.metadata.creationTimestamp, now) }
end

COLUMNS.namespaces = {
  NAME, col("Status", "string", 0, "", "The status of the namespace"), AGE,
}
function ROW.namespaces(ns, now)
  return { ns.metadata.name, U.dig(ns, { "status", "phase" }) or "Active",
           U.age(ns.metadata.creationTimestamp, now) }
end

COLUMNS.events = {
  col("Last Seen", "string", 0, "", "Time when last this event was seen"),
  col("Type", "string", 0, "", "Type of this event (Normal, Warning), new types could be added in the future."),
  col("Reason", "string", 0, "", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
  col("Object", "string", 0, "", "The object that this event is about."),
  col("Subobject", "string", 1, "", "The subobject that this event is about."),
  col("Source", "string", 1, "", "The component reporting this event. Should be a short machine understandable string."),
  col("Message", "string", 0, "", "A human-readable description of the status of this operation."),
  col("First Seen", "string", 1, "", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"),
  col("Count", "string", 1, "", "The number of times this event has occurred."),
  col("Name", "string", 1, "name", "Name must be unique within a namespace."),
}
function ROW.events(e, now)
  local last = U.parse_time(e.lastTimestamp) or U.parse_time(e.metadata.creationTimestamp) or now
  local first = U.parse_time(e.firstTimestamp) or last
  local seen = U.human_duration((now - last) / 1000)
  local count = e.count or 1
  if count > 1 then
    seen = string.format("%s (x%d over %s)", seen, count,
                         U.human_duration((now - first) / 1000))
  end
  local io = e.involvedObject or {}
  local source = U.dig(e, { "source", "component" }) or ""
  local host = U.dig(e, { "source", "host" })
  if host and host ~= "" then source = source .. ", " .. host end
  return { seen, e.type or "", e.reason or "",
           string.lower(io.kind or "") .. "/" .. (io.name or ""),
           io.fieldPath or "", source, e.message or "",
           U.human_duration((now - first) / 1000), tostring(count),
           e.metadata.name }
end

function M.supports(res) return COLUMNS[res] ~= nil end

-- Table for objs of resource res. include: "Object" (full objects in the
-- rows, what --sort-by needs), "None", or anything else for
-- PartialObjectMetadata. with_columns false leaves out the column
-- definitions (later events of a watch).
function M.table(res, objs, rv, include, with_columns)
  local now = U.now_ms()
  local rows = U.A()
  for _, o in ipairs(objs) do
    local row = { cells = U.A(ROW[res](o, now)) }
    if include == "Object" then
      row.object = o
    elseif include ~= "None" then
      row.object = { kind = "PartialObjectMetadata",
                     apiVersion = "meta.k8s.io/v1", metadata = o.metadata }
    end
    rows[#rows + 1] = row
  end
  local t = { kind = "Table", apiVersion = "meta.k8s.io/v1",
              metadata = { resourceVersion = tostring(rv) }, rows = rows }
  if with_columns ~= false then t.columnDefinitions = U.A(COLUMNS[res]) end
  return t
end

return M
