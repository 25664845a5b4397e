-- The OpenAPI v3 documents the simulated cluster serves (/openapi/v3 and
-- one document per group-version), built from the schema data below, and
-- the strict field check (?fieldValidation=Strict|Warn) against the same
-- data. kubectl needs both: `kubectl apply` finds `fieldValidation` among
-- the PATCH parameters of the kind and leaves unknown fields to the
-- server; `kubectl explain` reads the schemas.
--
-- The schemas are a subset of Kubernetes': every field of the structs the
-- sim acts on is listed (so a misspelt one is an unknown field), deeper
-- structs it stores without reading (probes, affinity, volumes, status...)
-- are objects with x-kubernetes-preserve-unknown-fields.

local U = require("summit.sim.util")

local M = {}

local PREFIX = {
  meta = "io.k8s.apimachinery.pkg.apis.meta.v1.",
  core = "io.k8s.api.core.v1.",
  apps = "io.k8s.api.apps.v1.",
  intstr = "io.k8s.apimachinery.pkg.util.intstr.",
  net = "io.k8s.api.networking.v1.",
  gw = "io.k8s.networking.gateway.v1.",
  istio = "io.istio.networking.v1.",
  smi = "io.smi-spec.split.v1alpha2.",
}

-- The schema prefix of each group's kinds (short names "net.Ingress", ...).
local GROUP_SHORT = { [""] = "core", apps = "apps", ["networking.k8s.io"] = "net",
                      ["gateway.networking.k8s.io"] = "gw", ["networking.istio.io"] = "istio",
                      ["split.smi-spec.io"] = "smi" }

-- Field types: "string", "integer" (int32), "int64", "boolean", "time",
-- "any" (an object kept as it is), "map" (string to string), "intstr",
-- "[]T" (a list of T), or the short name of a schema below ("core.PodSpec").
-- A field: { name, type, description }.
local TYPEMETA = {
  { "apiVersion", "string", "The versioned schema of this representation of an object." },
  { "kind", "string", "The REST resource this object represents, in CamelCase." },
  { "metadata", "meta.ObjectMeta", "Standard object's metadata." },
}

local function kind(gvk, desc, fields)
  local all = {}
  for _, f in ipairs(TYPEMETA) do all[#all + 1] = f end
  for _, f in ipairs(fields) do all[#all + 1] = f end
  return { gvk = gvk, desc = desc, fields = all }
end

M.SCHEMAS = {
  ["meta.ObjectMeta"] = { desc = "Metadata that all persisted resources must have.", fields = {
    { "name", "string", "Name must be unique within a namespace. Cannot be updated." },
    { "generateName", "string", "Prefix the server uses to generate a unique name when name is not given." },
    { "namespace", "string", "The namespace the object is in; empty for cluster-scoped objects." },
    { "selfLink", "string", "Deprecated; not set." },
    { "uid", "string", "Unique in time and space, set by the server." },
    { "resourceVersion", "string", "The version of the object, for optimistic concurrency and watches." },
    { "generation", "int64", "The generation of the desired state, set by the server." },
    { "creationTimestamp", "time", "When the object was created, set by the server." },
    { "deletionTimestamp", "time", "When the object will be deleted." },
    { "deletionGracePeriodSeconds", "int64", "Seconds allowed for graceful termination." },
    { "labels", "map", "Key value pairs to organize and select objects." },
    { "annotations", "map", "Key value pairs for arbitrary non-identifying metadata." },
    { "ownerReferences", "[]any", "Objects this object depends on (garbage collection)." },
    { "finalizers", "[]string", "Must be empty before the object is deleted." },
    { "managedFields", "[]any", "Which field manager owns which fields (server-side apply)." },
  } },
  ["meta.LabelSelector"] = { desc = "A label query over a set of resources.", fields = {
    { "matchLabels", "map", "Labels that must all match." },
    { "matchExpressions", "[]any", "Label selector requirements, ANDed." },
  } },
  ["intstr.IntOrString"] = { desc = "An int32 or a string.", intstr = true },

  ["apps.Deployment"] = kind({ group = "apps", version = "v1", kind = "Deployment" },
    "Deployment enables declarative updates for Pods and ReplicaSets.", {
    { "spec", "apps.DeploymentSpec", "Specification of the desired behavior of the Deployment." },
    { "status", "any", "Most recently observed status of the Deployment." },
  }),
  ["apps.DeploymentSpec"] = { desc = "The specification of the desired behavior of the Deployment.", fields = {
    { "replicas", "integer", "Number of desired pods. This is a pointer to distinguish between explicit zero and not specified. Defaults to 1." },
    { "selector", "meta.LabelSelector", "Label selector for pods. It must match the pod template's labels." },
    { "template", "core.PodTemplateSpec", "Template describes the pods that will be created." },
    { "strategy", "apps.DeploymentStrategy", "The deployment strategy to use to replace existing pods with new ones." },
    { "minReadySeconds", "integer", "Minimum seconds a new pod must be ready without crashing to count as available. Defaults to 0." },
    { "revisionHistoryLimit", "integer", "The number of old ReplicaSets to retain to allow rollback. Defaults to 10." },
    { "paused", "boolean", "Indicates that the deployment is paused." },
    { "progressDeadlineSeconds", "integer", "Seconds for the deployment to make progress before it is considered failed. Defaults to 600s." },
  } },
  ["apps.DeploymentStrategy"] = { desc = "How to replace existing pods with new ones.", fields = {
    { "type", "string", "Type of deployment: \"Recreate\" or \"RollingUpdate\" (default)." },
    { "rollingUpdate", "apps.RollingUpdateDeployment", "Rolling update config parameters, when type is RollingUpdate." },
  } },
  ["apps.RollingUpdateDeployment"] = { desc = "Spec to control the desired behavior of a rolling update.", fields = {
    { "maxUnavailable", "intstr", "The maximum number (or percentage) of pods that can be unavailable during the update. Defaults to 25%." },
    { "maxSurge", "intstr", "The maximum number (or percentage) of pods that can be scheduled above the desired number. Defaults to 25%." },
  } },
  ["apps.ReplicaSet"] = kind({ group = "apps", version = "v1", kind = "ReplicaSet" },
    "ReplicaSet ensures that a specified number of pod replicas are running at any given time.", {
    { "spec", "apps.ReplicaSetSpec", "Specification of the desired behavior of the ReplicaSet." },
    { "status", "any", "Most recently observed status of the ReplicaSet." },
  }),
  ["apps.ReplicaSetSpec"] = { desc = "The specification of a ReplicaSet.", fields = {
    { "replicas", "integer", "Number of desired pods. Defaults to 1." },
    { "minReadySeconds", "integer", "Minimum seconds a new pod must be ready to count as available." },
    { "selector", "meta.LabelSelector", "A label query over pods that should match the replica count." },
    { "template", "core.PodTemplateSpec", "The object that describes the pod that will be created." },
  } },

  ["core.PodTemplateSpec"] = { desc = "Data a pod should have when created from a template.", fields = {
    { "metadata", "meta.ObjectMeta", "Standard object's metadata." },
    { "spec", "core.PodSpec", "Specification of the desired behavior of the pod." },
  } },
  ["core.PodSpec"] = { desc = "A description of a pod.", fields = {
    { "volumes", "[]any", "Volumes that can be mounted by containers of the pod." },
    { "initContainers", "[]core.Container", "Containers run in order before the app containers start." },
    { "containers", "[]core.Container", "Containers belonging to the pod. There must be at least one." },
    { "ephemeralContainers", "[]any", "Ephemeral containers run in this pod for debugging." },
    { "restartPolicy", "string", "Restart policy for all containers: Always (default), OnFailure, Never." },
    { "terminationGracePeriodSeconds", "int64", "Seconds the pod needs to terminate gracefully. Defaults to 30." },
    { "activeDeadlineSeconds", "int64", "Seconds the pod may be active before it is failed." },
    { "dnsPolicy", "string", "DNS policy for the pod. Defaults to \"ClusterFirst\"." },
    { "nodeSelector", "map", "Labels a node must have for the pod to fit on it." },
    { "serviceAccountName", "string", "The ServiceAccount used to run this pod." },
    { "serviceAccount", "string", "Deprecated alias for serviceAccountName." },
    { "automountServiceAccountToken", "boolean", "Whether a service account token is mounted." },
    { "nodeName", "string", "The node the pod is scheduled onto." },
    { "hostNetwork", "boolean", "Use the host's network namespace." },
    { "hostPID", "boolean", "Use the host's pid namespace." },
    { "hostIPC", "boolean", "Use the host's ipc namespace." },
    { "shareProcessNamespace", "boolean", "Share a single process namespace between the containers." },
    { "securityContext", "any", "Pod-level security attributes." },
    { "imagePullSecrets", "[]any", "Secrets used to pull the images." },
    { "hostname", "string", "The pod's hostname." },
    { "subdomain", "string", "The pod's subdomain." },
    { "affinity", "any", "The pod's scheduling constraints." },
    { "schedulerName", "string", "The scheduler that dispatches the pod." },
    { "tolerations", "[]any", "The pod's tolerations." },
    { "hostAliases", "[]any", "Hosts entries added to the pod's hosts file." },
    { "priorityClassName", "string", "The pod's priority class." },
    { "priority", "integer", "The priority value." },
    { "dnsConfig", "any", "DNS parameters of the pod." },
    { "readinessGates", "[]any", "Extra conditions for pod readiness." },
    { "runtimeClassName", "string", "The RuntimeClass used to run this pod." },
    { "enableServiceLinks", "boolean", "Whether service information is injected as environment variables." },
    { "preemptionPolicy", "string", "Policy for preempting pods with lower priority." },
    { "overhead", "any", "Resource overhead of the pod's runtime." },
    { "topologySpreadConstraints", "[]any", "How the pods spread across topology domains." },
    { "setHostnameAsFQDN", "boolean", "Use the FQDN as the hostname." },
    { "os", "any", "The OS of the containers." },
    { "hostUsers", "boolean", "Use the host's user namespace." },
    { "schedulingGates", "[]any", "Gates that block scheduling." },
    { "resourceClaims", "[]any", "Resource claims of the pod." },
    { "resources", "any", "Total resources of the pod." },
  } },
  ["core.Container"] = { desc = "A single application container to run within a pod.", fields = {
    { "name", "string", "Name of the container, a DNS label unique within the pod." },
    { "image", "string", "Container image name." },
    { "command", "[]string", "Entrypoint array. Not executed within a shell." },
    { "args", "[]string", "Arguments to the entrypoint." },
    { "workingDir", "string", "The container's working directory." },
    { "ports", "[]core.ContainerPort", "Ports to expose from the container." },
    { "envFrom", "[]any", "Sources to populate environment variables from." },
    { "env", "[]core.EnvVar", "Environment variables to set in the container." },
    { "resources", "any", "Compute resources required by this container." },
    { "resizePolicy", "[]any", "Resources resize policy for the container." },
    { "restartPolicy", "string", "Restart policy of an init container (\"Always\": a sidecar)." },
    { "volumeMounts", "[]core.VolumeMount", "Pod volumes to mount into the container's filesystem." },
    { "volumeDevices", "[]any", "Block devices to be used by the container." },
    { "livenessProbe", "any", "Periodic probe of container liveness." },
    { "readinessProbe", "any", "Periodic probe of container service readiness." },
    { "startupProbe", "any", "Probe that the pod has initialized." },
    { "lifecycle", "any", "Actions taken in response to container lifecycle events." },
    { "terminationMessagePath", "string", "File the container's termination message is written to." },
    { "terminationMessagePolicy", "string", "How the termination message is populated." },
    { "imagePullPolicy", "string", "Always, Never, IfNotPresent. Defaults to Always for :latest, else IfNotPresent." },
    { "securityContext", "any", "Security options the container runs with." },
    { "stdin", "boolean", "Allocate a buffer for stdin." },
    { "stdinOnce", "boolean", "Close stdin after the first attach." },
    { "tty", "boolean", "Allocate a TTY." },
  } },
  ["core.ContainerPort"] = { desc = "A network port in a single container.", fields = {
    { "name", "string", "An IANA_SVC_NAME, unique within the pod." },
    { "hostPort", "integer", "Port to expose on the host." },
    { "containerPort", "integer", "Port to expose on the pod's IP address, 0 < x < 65536." },
    { "protocol", "string", "UDP, TCP, or SCTP. Defaults to TCP." },
    { "hostIP", "string", "Host IP to bind the external port to." },
  } },
  ["core.EnvVar"] = { desc = "An environment variable present in a container.", fields = {
    { "name", "string", "Name of the environment variable." },
    { "value", "string", "The value; $(VAR_NAME) references are expanded." },
    { "valueFrom", "any", "Source for the variable's value (a field, a resource, a ConfigMap or Secret key)." },
  } },
  ["core.VolumeMount"] = { desc = "A mounting of a volume within a container.", fields = {
    { "name", "string", "The name of a volume of the pod." },
    { "readOnly", "boolean", "Mounted read-only if true." },
    { "recursiveReadOnly", "string", "Whether read-only mounts are recursively read-only." },
    { "mountPath", "string", "Path within the container at which the volume is mounted." },
    { "subPath", "string", "Path within the volume to mount from." },
    { "mountPropagation", "string", "How mounts are propagated." },
    { "subPathExpr", "string", "Expanded path within the volume to mount from." },
  } },
  ["core.Pod"] = kind({ group = "", version = "v1", kind = "Pod" },
    "Pod is a collection of containers that can run on a host.", {
    { "spec", "core.PodSpec", "Specification of the desired behavior of the pod." },
    { "status", "any", "Most recently observed status of the pod." },
  }),
  ["core.Service"] = kind({ group = "", version = "v1", kind = "Service" },
    "Service is a named abstraction of a software service: a port the proxy listens on and the pods behind it.", {
    { "spec", "core.ServiceSpec", "The behavior of the service." },
    { "status", "any", "Most recently observed status of the service." },
  }),
  ["core.ServiceSpec"] = { desc = "The attributes a user creates on a service.", fields = {
    { "ports", "[]core.ServicePort", "The ports exposed by this service." },
    { "selector", "map", "Routes traffic to pods with labels matching this selector." },
    { "clusterIP", "string", "The IP address of the service, usually assigned by the server." },
    { "clusterIPs", "[]string", "The IP addresses of the service." },
    { "type", "string", "ExternalName, ClusterIP (default), NodePort or LoadBalancer." },
    { "externalIPs", "[]string", "IPs for which nodes accept traffic for this service." },
    { "sessionAffinity", "string", "ClientIP or None (default)." },
    { "loadBalancerIP", "string", "Deprecated." },
    { "loadBalancerSourceRanges", "[]string", "Client IPs allowed to reach the load balancer." },
    { "externalName", "string", "The external reference for an ExternalName service." },
    { "externalTrafficPolicy", "string", "Cluster or Local." },
    { "healthCheckNodePort", "integer", "The health check node port." },
    { "publishNotReadyAddresses", "boolean", "Publish addresses of pods that are not ready." },
    { "sessionAffinityConfig", "any", "Configuration of session affinity." },
    { "ipFamilies", "[]string", "IP families assigned to this service." },
    { "ipFamilyPolicy", "string", "SingleStack, PreferDualStack or RequireDualStack." },
    { "allocateLoadBalancerNodePorts", "boolean", "Whether node ports are allocated for a LoadBalancer." },
    { "loadBalancerClass", "string", "The class of the load balancer implementation." },
    { "internalTrafficPolicy", "string", "Cluster or Local." },
    { "trafficDistribution", "string", "How traffic is distributed to endpoints." },
  } },
  ["core.ServicePort"] = { desc = "A port of a service.", fields = {
    { "name", "string", "The name of this port within the service." },
    { "protocol", "string", "TCP, UDP, or SCTP. Defaults to TCP." },
    { "appProtocol", "string", "The application protocol of this port." },
    { "port", "integer", "The port exposed by this service." },
    { "targetPort", "intstr", "Number or name of the port on the pods." },
    { "nodePort", "integer", "The port on each node (NodePort or LoadBalancer)." },
  } },
  ["core.ConfigMap"] = kind({ group = "", version = "v1", kind = "ConfigMap" },
    "ConfigMap holds configuration data for pods to consume.", {
    { "data", "map", "Configuration data (UTF-8 values)." },
    { "binaryData", "map", "Binary configuration data (base64 values)." },
    { "immutable", "boolean", "If true, the data cannot be updated." },
  }),
  ["core.Secret"] = kind({ group = "", version = "v1", kind = "Secret" },
    "Secret holds secret data of a certain type.", {
    { "data", "map", "Secret data, base64-encoded values." },
    { "stringData", "map", "Write-only convenience: plain values merged into data." },
    { "type", "string", "Used to facilitate programmatic handling of secret data." },
    { "immutable", "boolean", "If true, the data cannot be updated." },
  }),
  ["core.Namespace"] = kind({ group = "", version = "v1", kind = "Namespace" },
    "Namespace provides a scope for names.", {
    { "spec", "any", "The behavior of the namespace (finalizers)." },
    { "status", "any", "The status of the namespace." },
  }),
  -- Route objects (sim/routes.lua): the fields the traffic generator and
  -- summit.rollout's routers read are listed; the rest of each spec (TLS,
  -- matches, filters, retries...) is kept as it is.
  ["net.Ingress"] = kind({ group = "networking.k8s.io", version = "v1", kind = "Ingress" },
    "Ingress is a collection of rules that allow inbound connections to reach the endpoints defined by a backend.", {
    { "spec", "net.IngressSpec", "Spec is the desired state of the Ingress." },
    { "status", "any", "Status is the current state of the Ingress." },
  }),
  ["net.IngressSpec"] = { desc = "IngressSpec describes the Ingress the user wishes to exist.", fields = {
    { "ingressClassName", "string", "The name of an IngressClass cluster resource." },
    { "defaultBackend", "any", "The backend that should handle requests that don't match any rule." },
    { "tls", "[]any", "TLS configuration." },
    { "rules", "[]net.IngressRule", "A list of host rules used to configure the Ingress." },
  } },
  ["net.IngressRule"] = { desc = "Maps the paths under a specified host to the related backend services.", fields = {
    { "host", "string", "The fully qualified domain name of a network host." },
    { "http", "net.HTTPIngressRuleValue", "A list of http selectors pointing to backends." },
  } },
  ["net.HTTPIngressRuleValue"] = { desc = "A list of http selectors pointing to backends.", fields = {
    { "paths", "[]net.HTTPIngressPath", "A collection of paths that map requests to backends." },
  } },
  ["net.HTTPIngressPath"] = { desc = "Associates a path with a backend.", fields = {
    { "path", "string", "Matched against the path of an incoming request." },
    { "pathType", "string", "Exact, Prefix or ImplementationSpecific." },
    { "backend", "any", "The referenced service endpoint to which the traffic will be forwarded." },
  } },
  ["gw.HTTPRoute"] = kind({ group = "gateway.networking.k8s.io", version = "v1", kind = "HTTPRoute" },
    "HTTPRoute provides a way to route HTTP requests.", {
    { "spec", "gw.HTTPRouteSpec", "Spec defines the desired state of HTTPRoute." },
    { "status", "any", "Status defines the current state of HTTPRoute." },
  }),
  ["gw.HTTPRouteSpec"] = { desc = "The desired state of HTTPRoute.", fields = {
    { "parentRefs", "[]any", "The resources (usually Gateways) that a Route wants to be attached to." },
    { "hostnames", "[]string", "Hostnames matched against the HTTP Host header." },
    { "rules", "[]gw.HTTPRouteRule", "Rules are a list of HTTP matchers, filters and actions." },
  } },
  ["gw.HTTPRouteRule"] = { desc = "Semantics for matching an HTTP request and forwarding it.", fields = {
    { "name", "string", "The name of the route rule." },
    { "matches", "[]any", "Conditions used for matching the rule against incoming HTTP requests." },
    { "filters", "[]any", "Filters applied to requests that match this rule." },
    { "backendRefs", "[]gw.HTTPBackendRef", "The backend(s) where matching requests should be sent." },
    { "timeouts", "any", "Timeouts for the rule." },
    { "retry", "any", "Retry configuration." },
    { "sessionPersistence", "any", "Session persistence configuration." },
  } },
  ["gw.HTTPBackendRef"] = { desc = "How an HTTPRoute forwards an HTTP request.", fields = {
    { "group", "string", "The group of the referent; \"\" (core) for a Service." },
    { "kind", "string", "The kind of the referent. Defaults to \"Service\"." },
    { "name", "string", "The name of the referent." },
    { "namespace", "string", "The namespace of the backend; defaults to the route's." },
    { "port", "integer", "The destination port number." },
    { "weight", "integer", "The proportion of requests forwarded to this backend: weight / (sum of the rule's weights). Defaults to 1." },
    { "filters", "[]any", "Filters applied to requests sent to this backend." },
  } },
  ["istio.VirtualService"] = kind({ group = "networking.istio.io", version = "v1", kind = "VirtualService" },
    "Configuration affecting traffic routing.", {
    { "spec", "istio.VirtualServiceSpec", "Configuration affecting traffic routing." },
    { "status", "any", "The status of the resource." },
  }),
  ["istio.VirtualServiceSpec"] = { desc = "Configuration affecting traffic routing.", fields = {
    { "hosts", "[]string", "The destination hosts to which traffic is being sent." },
    { "gateways", "[]string", "The gateways and sidecars that should apply these routes." },
    { "http", "[]istio.HTTPRoute", "An ordered list of route rules for HTTP traffic." },
    { "tls", "[]any", "Route rules for non-terminated TLS and HTTPS traffic." },
    { "tcp", "[]any", "Route rules for opaque TCP traffic." },
    { "exportTo", "[]string", "Namespaces to which this virtual service is exported." },
  } },
  ["istio.HTTPRoute"] = { desc = "Match conditions and actions for HTTP traffic.", fields = {
    { "name", "string", "The name assigned to the route for debugging purposes." },
    { "match", "[]any", "Match conditions to be satisfied for the rule to be activated." },
    { "route", "[]istio.HTTPRouteDestination", "Destinations the traffic is forwarded to, by weight." },
    { "redirect", "any", "An HTTP 301 redirect." },
    { "rewrite", "any", "Rewrite HTTP URIs and Authority headers." },
    { "timeout", "string", "Timeout for HTTP requests." },
    { "retries", "any", "Retry policy for HTTP requests." },
    { "fault", "any", "Fault injection policy." },
    { "mirror", "any", "Mirror HTTP traffic to another destination." },
    { "headers", "any", "Header manipulation rules." },
    { "corsPolicy", "any", "Cross-Origin Resource Sharing policy." },
  } },
  ["istio.HTTPRouteDestination"] = { desc = "A destination and the share of the traffic it gets.", fields = {
    { "destination", "any", "The destination: host (a Service name or FQDN), subset, port.number." },
    { "weight", "integer", "The proportion of traffic to be forwarded to the destination, in percent." },
    { "headers", "any", "Header manipulation rules." },
  } },
  ["smi.TrafficSplit"] = kind({ group = "split.smi-spec.io", version = "v1alpha2", kind = "TrafficSplit" },
    "TrafficSplit allows users to incrementally direct percentages of traffic between various services.", {
    { "spec", "smi.TrafficSplitSpec", "The traffic split specification." },
  }),
  ["smi.TrafficSplitSpec"] = { desc = "The traffic split specification.", fields = {
    { "service", "string", "The root service (its FQDN) that clients use to communicate." },
    { "backends", "[]smi.TrafficSplitBackend", "The backends the traffic is split between." },
  } },
  ["smi.TrafficSplitBackend"] = { desc = "A backend Service and its weight.", fields = {
    { "service", "string", "The name of the Kubernetes Service." },
    { "weight", "integer", "The traffic to this backend, relative to the others' weights." },
  } },
  ["core.Event"] = kind({ group = "", version = "v1", kind = "Event" },
    "Event is a report of an event somewhere in the cluster.", {
    { "involvedObject", "any", "The object this event is about." },
    { "reason", "string", "Short, machine understandable reason for the transition." },
    { "message", "string", "A human-readable description." },
    { "source", "any", "The component reporting this event." },
    { "firstTimestamp", "time", "When the event was first recorded." },
    { "lastTimestamp", "time", "When the most recent occurrence was recorded." },
    { "count", "integer", "The number of times this event has occurred." },
    { "type", "string", "Normal or Warning." },
    { "eventTime", "string", "When this event was first observed (MicroTime)." },
    { "series", "any", "Data about the event series." },
    { "action", "string", "What action was taken or failed." },
    { "related", "any", "Secondary object for more complex actions." },
    { "reportingComponent", "string", "The controller that emitted this event." },
    { "reportingInstance", "string", "The ID of the controller instance." },
  }),
}

local function full_name(short)
  local p, rest = short:match("^(%w+)%.(.+)$")
  return PREFIX[p] .. rest
end

-- The OpenAPI schema of a field type, and the schema names it refers to.
local function type_schema(t, desc, refs)
  local s
  if t:sub(1, 2) == "[]" then
    s = { type = "array", items = type_schema(t:sub(3), nil, refs) }
  elseif t == "string" or t == "boolean" then
    s = { type = t }
  elseif t == "integer" then
    s = { type = "integer", format = "int32" }
  elseif t == "int64" then
    s = { type = "integer", format = "int64" }
  elseif t == "time" then
    s = { type = "string", format = "date-time" }
  elseif t == "map" then
    s = { type = "object", additionalProperties = { type = "string", default = "" } }
  elseif t == "any" then
    s = { type = "object", ["x-kubernetes-preserve-unknown-fields"] = true }
  elseif t == "intstr" then
    refs["intstr.IntOrString"] = true
    s = { ["$ref"] = "#/components/schemas/" .. full_name("intstr.IntOrString") }
  else
    assert(M.SCHEMAS[t], "openapi: unknown schema " .. t)
    refs[t] = true
    -- A $ref cannot carry a description: wrap it, as Kubernetes does.
    s = { allOf = U.A({ { ["$ref"] = "#/components/schemas/" .. full_name(t) } }) }
  end
  s.description = desc
  return s
end

local function component(short, refs)
  local d = M.SCHEMAS[short]
  if d.intstr then
    return { type = "string", format = "int-or-string", description = d.desc }
  end
  local props = {}
  for _, f in ipairs(d.fields) do props[f[1]] = type_schema(f[2], f[3], refs) end
  local s = { type = "object", description = d.desc, properties = props }
  if d.gvk then s["x-kubernetes-group-version-kind"] = U.A({ d.gvk }) end
  return s
end

-- The components of the kinds of group-version gv ("" or "apps") and
-- everything they refer to.
local function components(group)
  local out, todo, seen = {}, {}, {}
  for short, d in pairs(M.SCHEMAS) do
    if d.gvk and d.gvk.group == group then todo[#todo + 1] = short end
  end
  while #todo > 0 do
    local short = table.remove(todo)
    if not seen[short] then
      seen[short] = true
      local refs = {}
      out[full_name(short)] = component(short, refs)
      for r in pairs(refs) do todo[#todo + 1] = r end
    end
  end
  return out
end

local function short_of(def)
  return GROUP_SHORT[def.group] .. "." .. def.kind
end

local function param(name, where, desc)
  return { name = name, ["in"] = where, description = desc, required = where == "path" or nil,
           schema = { type = "string" } }
end

-- The operations kubectl looks at: PATCH with fieldValidation (apply's
-- validation), and the others for completeness.
local function paths(defs)
  local out = {}
  for _, def in ipairs(defs) do
    local gvk = { group = def.group, version = def.version, kind = def.kind }
    local ref = { ["$ref"] = "#/components/schemas/" .. full_name(short_of(def)) }
    local body = { content = { ["application/json"] = { schema = ref } } }
    local function op(action, extra, reqbody)
      local o = { ["x-kubernetes-action"] = action, ["x-kubernetes-group-version-kind"] = gvk,
                  operationId = action .. def.kind, tags = U.A({ def.api_version }),
                  parameters = U.A(extra or {}), requestBody = reqbody,
                  responses = { ["200"] = { description = "OK", content = { ["application/json"] = { schema = ref } } } } }
      return o
    end
    local writes = {
      param("dryRun", "query", "When present, modifications are not persisted."),
      param("fieldManager", "query", "The name of the actor making the change."),
      param("fieldValidation", "query", "Ignore, Warn or Strict: what to do with unknown or duplicate fields."),
    }
    local patch_params = U.copy(writes)
    patch_params[#patch_params + 1] = param("force", "query", "Force an apply request over other managers' fields.")
    local patch_body = { content = {
      ["application/json-patch+json"] = { schema = { type = "object" } },
      ["application/merge-patch+json"] = { schema = { type = "object" } },
      ["application/apply-patch+yaml"] = { schema = { type = "object" } },
    } }
    local base = def.group == "" and "/api/v1" or ("/apis/" .. def.api_version)
    local coll = base .. (def.namespaced and "/namespaces/{namespace}/" or "/") .. def.name
    local common = { param("name", "path", "name of the " .. def.kind) }
    if def.namespaced then common[2] = param("namespace", "path", "object name and auth scope") end
    local item = { parameters = U.A(common), get = op("get") }
    local list = { get = op("list"), parameters = U.A(def.namespaced and { common[2] } or {}) }
    local rw = false
    for _, v in ipairs(def.verbs) do rw = rw or v == "create" end
    if rw then
      item.put = op("put", writes, body)
      item.patch = op("patch", patch_params, patch_body)
      item.delete = op("delete", { param("dryRun", "query", "When present, modifications are not persisted.") })
      list.post = op("post", writes, body)
    end
    out[coll] = list
    out[coll .. "/{name}"] = item
  end
  return out
end

local cache = {}

-- The document of group-version path "api/v1" or "apis/GROUP/VERSION" (a
-- JSON string), nil for another path.
function M.document(gv_path, defs_of_group)
  if cache[gv_path] then return cache[gv_path] end
  local group, version = "", "v1"
  if gv_path ~= "api/v1" then group, version = gv_path:match("^apis/([^/]+)/([^/]+)$") end
  if not group then return nil end
  local defs = defs_of_group(group)
  if not defs or defs[1].version ~= version then return nil end
  local doc = {
    openapi = "3.0.0",
    info = { title = "Kubernetes (summit sim)", version = "v1.32.0" },
    paths = paths(defs),
    components = { schemas = components(group) },
  }
  cache[gv_path] = U.canonical(doc)
  return cache[gv_path]
end

-- /openapi/v3: the group-versions and the URLs of their documents; the
-- hash changes when the document does, which is what clients cache by.
function M.index(defs_of_group)
  local out = {}
  local gvs, seen = { "api/v1" }, {}
  for _, def in ipairs(require("summit.sim.resources").list) do
    local gv = "apis/" .. def.group .. "/" .. def.version
    if def.group ~= "" and not seen[gv] then seen[gv] = true; gvs[#gvs + 1] = gv end
  end
  for _, gv in ipairs(gvs) do
    local doc = M.document(gv, defs_of_group)
    out[gv] = { serverRelativeURL = string.format("/openapi/v3/%s?hash=%08X%08X", gv,
                                                  U.fnv32a(doc), U.fnv32a(doc:reverse())) }
  end
  return { paths = out }
end

-- ---- strict field validation ----------------------------------------------------------

-- Appends to errs one 'unknown field "path"' per field of value that the
-- schema named short does not have, as the API server's strict decoding
-- words them (spec.template.spec.containers[0].imagee).
local function unknown(value, short, at, errs)
  if type(value) ~= "table" or U.is_array(value) then return end
  local d = M.SCHEMAS[short]
  if not d or not d.fields then return end
  local byname = {}
  for _, f in ipairs(d.fields) do byname[f[1]] = f[2] end
  for _, k in ipairs(U.keys(value)) do
    local path = at == "" and k or (at .. "." .. k)
    local t = byname[k]
    if not t then
      errs[#errs + 1] = string.format('unknown field "%s"', path)
    elseif t:sub(1, 2) == "[]" and M.SCHEMAS[t:sub(3)] and type(value[k]) == "table" then
      for i, item in ipairs(value[k]) do
        unknown(item, t:sub(3), string.format("%s[%d]", path, i - 1), errs)
      end
    elseif M.SCHEMAS[t] then
      unknown(value[k], t, path, errs)
    end
  end
end

-- The unknown fields of obj, a body of kind def ({} when none).
function M.unknown_fields(def, obj)
  local errs = {}
  unknown(obj, short_of(def), "", errs)
  return errs
end

return M
