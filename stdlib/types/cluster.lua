---@meta
-- Annotations for lua-language-server: the runbook global cluster() and the
-- Kubernetes client it returns (lua/summit/cluster.lua, docs/cluster.md).
-- Never loaded by summit itself. Every client method is one journal entry.

---A kubectl-style reference ("deployment/web", "deploy/web", "po/web-1",
---"svc/web", "cm/flags", "rs/web-5d4f8", "secret/tls", "job/migrate",
---"ingress/web") or a table naming the kind and the name.
---@alias summit.KubeRef string|{ kind: string, name: string }

---A Kubernetes object as the API server answers it (decoded JSON).
---@class summit.KubeObject
---@field apiVersion? string
---@field kind string
---@field metadata table
---@field spec? table
---@field status? table
---@field data? table

---cluster{...}: where to connect, instead of a cluster named in summit.lua.
---@class summit.ClusterSpec
---@field name? string Shown in the journal (default "explicit")
---@field sim? boolean summit's simulated cluster, in-process (docs/sim.md)
---@field scenario? table The simulated cluster's scenario (sim = true)
---@field kubeconfig? string Default $KUBECONFIG, else ~/.kube/config
---@field context? string Default: the kubeconfig's current-context
---@field namespace? string Default namespace of every call
---@field in_cluster? boolean The pod's service-account token, CA and namespace
---@field server? string API server URL (direct connection)
---@field token? string Bearer token (direct connection)
---@field token_file? string Bearer token file, read before every request
---@field ca_file? string CA certificate (direct connection)
---@field insecure? boolean Skip TLS verification

---The optional last argument of every client method.
---@class summit.KubeOptions
---@field namespace? string Default: the environment's, else the cluster's, else the context's, else "default"

---@class summit.KubeListOptions: summit.KubeOptions
---@field labels? table<string, string> Label selector as a table: { app = "web" }
---@field label_selector? string e.g. "app=web,track=canary"
---@field field_selector? string e.g. "metadata.name=web"

---@class summit.KubePatchOptions: summit.KubeOptions
---@field type? "strategic"|"merge"|"json" Default "strategic"

---@class summit.KubeSetEnvOptions: summit.KubeOptions
---@field container? string Only this container (default: every container)

---@class summit.KubeWaitOptions: summit.KubeOptions
---@field timeout? summit.Duration ETIMEDOUT after this long

---@class summit.KubeRolloutStatusOptions: summit.KubeWaitOptions
---@field revision? integer Fail with EREVISION unless this revision is the running one

---@class summit.KubeRolloutStatus
---@field message string e.g. 'deployment "web" successfully rolled out'
---@field revision integer
---@field replicas integer
---@field available integer

---@class summit.KubeUndoOptions: summit.KubeOptions
---@field revision? integer Default: the revision before the current one

---@class summit.KubeUndoResult
---@field revision integer The revision rolled back to
---@field skipped boolean The template already matched it
---@field message string

---@class summit.KubeRevision
---@field revision integer
---@field replicaset string
---@field change_cause? string
---@field images string[]

---@class summit.KubeLogsOptions: summit.KubeOptions
---@field tail? integer Last lines only
---@field since? summit.Duration Only lines this recent
---@field container? string
---@field previous? boolean The previous container's logs
---@field grep? string Lua pattern: keep only matching lines

---@class summit.KubeExecOptions: summit.KubeOptions
---@field container? string Default: the pod's default container, else its first
---@field check? boolean Default true: a non-zero exit raises EEXIT

---@class summit.KubeExecResult
---@field code integer The command's exit status
---@field exit_code integer The same
---@field stdout string
---@field stderr string
---@field pod string The pod it ran in
---@field container? string

---@alias summit.KubeCondition string|{ condition: string, status?: string }|fun(obj: summit.KubeObject): any

---A Kubernetes client (docs/cluster.md). Errors of the API server carry the
---Status reason: ENOTFOUND (reason "NotFound"), EALREADYEXISTS, ECONFLICT,
---EFORBIDDEN, EINVALID, ...; also EKUBECONFIG, EKUBEAUTH, ECONNREFUSED,
---ETIMEDOUT, EBADJSON.
---@class summit.ClusterClient
---@field name string The cluster's name in summit.lua (or the spec's name)
---@field spec table The client's own copy of its cluster's spec
local ClusterClient = {}

---The object.
---@param ref summit.KubeRef
---@param opts? summit.KubeOptions
---@return summit.KubeObject
function ClusterClient:get(ref, opts) end

---The items of a kind ("pods", "deployments", "configmaps", ...).
---@param kind string
---@param opts? summit.KubeListOptions
---@return summit.KubeObject[]
function ClusterClient:list(kind, opts) end

---Creates the object (its kind and metadata.name are required).
---@param obj summit.KubeObject
---@param opts? summit.KubeOptions
---@return summit.KubeObject
function ClusterClient:create(obj, opts) end

---PUT of the whole object; a stale resourceVersion raises ECONFLICT.
---@param obj summit.KubeObject
---@param opts? summit.KubeOptions
---@return summit.KubeObject
function ClusterClient:replace(obj, opts) end

---A strategic merge patch by default; a JSON patch is a list of operations.
---@param ref summit.KubeRef
---@param patch table|string
---@param opts? summit.KubePatchOptions
---@return summit.KubeObject
function ClusterClient:patch(ref, patch, opts) end

---The Status or object the server answers.
---@param ref summit.KubeRef
---@param opts? summit.KubeOptions
---@return table
function ClusterClient:delete(ref, opts) end

---Sets one container's image (a strategic merge patch).
---@param ref summit.KubeRef
---@param container string
---@param image string
---@param opts? summit.KubeOptions
---@return summit.KubeObject
function ClusterClient:set_image(ref, container, image, opts) end

---Sets environment variables; false removes one (kubectl set env NAME-).
---@param ref summit.KubeRef
---@param vars table<string, string|number|boolean>
---@param opts? summit.KubeSetEnvOptions
---@return summit.KubeObject
function ClusterClient:set_env(ref, vars, opts) end

---The Scale object after setting spec.replicas.
---@param ref summit.KubeRef
---@param replicas integer
---@param opts? summit.KubeOptions
---@return table
function ClusterClient:scale(ref, replicas, opts) end

---Waits until the deployment has rolled out (kubectl rollout status).
---Raises EPROGRESSDEADLINE, ETIMEDOUT (default timeout 10m).
---@param ref summit.KubeRef
---@param opts? summit.KubeRolloutStatusOptions
---@return summit.KubeRolloutStatus
function ClusterClient:rollout_status(ref, opts) end

---Waits until a condition holds: a condition type ("Available"),
---{ condition =, status = }, or a function of the object returning truthy.
---@param ref summit.KubeRef
---@param cond summit.KubeCondition
---@param opts? summit.KubeWaitOptions
---@return summit.KubeObject
function ClusterClient:wait_for(ref, cond, opts) end

---The deployment's revisions, oldest first.
---@param ref summit.KubeRef
---@param opts? summit.KubeOptions
---@return summit.KubeRevision[]
function ClusterClient:rollout_history(ref, opts) end

---Rolls back to the previous revision (or opts.revision), as kubectl does.
---Raises EPAUSED, ENOHISTORY, ENOREVISION.
---@param ref summit.KubeRef
---@param opts? summit.KubeUndoOptions
---@return summit.KubeUndoResult
function ClusterClient:rollout_undo(ref, opts) end

---Restarts the pods (kubectl.kubernetes.io/restartedAt on the template).
---@param ref summit.KubeRef
---@param opts? summit.KubeOptions
---@return summit.KubeObject
function ClusterClient:rollout_restart(ref, opts) end

---The pods of a deployment (by its selector), or the one pod.
---@param ref summit.KubeRef
---@param opts? summit.KubeOptions
---@return summit.KubeObject[]
function ClusterClient:pods(ref, opts) end

---The log text of the first pod (of a deployment, or the pod).
---@param ref summit.KubeRef
---@param opts? summit.KubeLogsOptions
---@return string
function ClusterClient:logs(ref, opts) end

---The events of an object (nil: of the namespace), oldest first.
---@param ref? summit.KubeRef
---@param opts? summit.KubeOptions
---@return table[]
function ClusterClient:events(ref, opts) end

---Runs argv in a pod (or a running pod of a deployment) over the
---WebSocket exec protocol. No stdin, no TTY.
---@param ref summit.KubeRef
---@param argv (string|number)[]
---@param opts? summit.KubeExecOptions
---@return summit.KubeExecResult
function ClusterClient:exec(ref, argv, opts) end

---A Kubernetes client: cluster() is the --env environment's cluster,
---cluster("name") one named in summit.lua's clusters, cluster{...} one
---described here. Raises ENOCLUSTER; connecting waits for the first call.
---@param which? string|summit.ClusterSpec
---@return summit.ClusterClient
function cluster(which) end
