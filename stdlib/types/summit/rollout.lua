---@meta summit.rollout
-- Annotations for lua-language-server: require("summit.rollout")
-- (docs/stdlib/rollout.md). Never loaded by summit itself.

---The route hook: an annotation or a patch of a route object, or a function.
---@class summit.rollout.RouteSpec
---@field ref string|table The object to patch, kubectl-style ("ingress/web-canary")
---@field annotation? string Set this annotation to the weight ("25")
---@field patch? fun(weight: number): table A patch for the weight, instead of the annotation
---@field type? "merge"|"strategic"|"json" The patch type (default "merge")

---A built-in traffic router (summit.routers): exactly one of gateway,
---istio, nginx, smi, naming the route object.
---@class summit.rollout.Router
---@field gateway? string A Gateway API HTTPRoute ("httproute/web"): backendRefs[].weight
---@field istio? string An Istio VirtualService ("virtualservice/web"): http[].route[].weight
---@field nginx? string The primary Ingress ("ingress/web"); summit manages ingress/web-canary with ingress-nginx's canary annotations
---@field smi? string An SMI TrafficSplit ("trafficsplit/web"): backends[].weight
---@field stable? string The stable Service (default "<name>-stable"), selecting the stable's pods by pod-template hash
---@field canary? string The canary Service (default "<name>-canary")
---@field port? integer The port of the Services summit creates (default: the Service <name>'s ports, else the container's)

---@alias summit.rollout.Route summit.rollout.Router|summit.rollout.RouteSpec|fun(weight: number)

---Options every call takes.
---@class summit.rollout.Common
---@field name string The Deployment: "web", "deployment/web" or "deploy/web"
---@field cluster? summit.ClusterClient A client from cluster() (default: cluster())
---@field namespace? string
---@field container? string The container whose image changes (default: the first)
---@field timeout? summit.Duration Each rollout wait (default "10m")

---@class summit.rollout.RollingOptions: summit.rollout.Common
---@field image string

---@class summit.rollout.RollingResult
---@field image string
---@field previous string The image before
---@field revision? integer

---@class summit.rollout.UndoOptions: summit.rollout.Common
---@field revision? integer Default: the previous revision

---@class summit.rollout.BlueGreenOptions: summit.rollout.Common
---@field image? string Required by blue_green
---@field service? string The Service to switch (default: name)
---@field label? string The color label (default "color")
---@field colors? string[] The two colors (default { "blue", "green" })
---@field replicas? integer The new color's size (default: the active color's)
---@field from? string The Deployment to copy the first time, when no color exists (default: name)

---@class summit.rollout.BlueGreenResult
---@field active string The color the Service now selects
---@field previous? string The color it selected before
---@field deployment string "<name>-<active>"
---@field service string

---@class summit.rollout.CanaryOptions: summit.rollout.Common
---@field image? string Required by canary and progressive; promote takes the canary's by default
---@field weight? number canary: 0..100
---@field total? integer The replicas weights divide (default: stable + canary when the call starts)
---@field route? summit.rollout.Route

---@class summit.rollout.CanaryResult
---@field weight number
---@field canary integer Replicas of <name>-canary
---@field stable integer Replicas of the stable Deployment
---@field total integer

---@class summit.rollout.ProgressiveOptions: summit.rollout.CanaryOptions
---@field steps number[] Increasing weights, e.g. { 10, 50, 100 }
---@field between? fun(weight: number) Runs inside each weight's step, after every weight but the last
---@field promote? boolean Promote after a last weight of 100 (default true)

---@class summit.rollout.ProgressiveResult
---@field weights number[]
---@field promoted boolean
---@field total integer

---One Deployment in a status.
---@class summit.rollout.DeploymentInfo
---@field image string The image of the container (opts.container, else the first)
---@field replicas integer
---@field ready integer
---@field revision? integer

---@class summit.rollout.Status
---@field stable? summit.rollout.DeploymentInfo The Deployment `name`
---@field canary? summit.rollout.DeploymentInfo <name>-canary
---@field weight? number The canary's share of the replicas, percent
---@field selector? table<string, string> The Service's selector
---@field color? string The selector's blue-green label value
---@field active? summit.rollout.DeploymentInfo <name>-<color>

---@class summit.rollout
---@field PREVIOUS_SELECTOR string The Service annotation with the selector a switch replaced
local rollout = {}

---Sets the image and waits; the undo sets the previous image back.
---@param opts summit.rollout.RollingOptions
---@return summit.rollout.RollingResult
function rollout.rolling(opts) end

---cluster:rollout_undo, then a wait for the rollout.
---@param opts summit.rollout.UndoOptions
---@return table result { revision, skipped, message }
function rollout.undo(opts) end

---Deploys the other color next to the active one, waits, switches the Service.
---@param opts summit.rollout.BlueGreenOptions
---@return summit.rollout.BlueGreenResult
function rollout.blue_green(opts) end

---Switches the Service back to the other color (which must be fully ready).
---@param opts summit.rollout.BlueGreenOptions
---@return summit.rollout.BlueGreenResult
function rollout.switch_back(opts) end

---The canary Deployment <name>-canary at `weight` percent of the replicas.
---@param opts summit.rollout.CanaryOptions
---@return summit.rollout.CanaryResult
function rollout.canary(opts) end

---The stable takes the canary's image at full size; the canary is deleted.
---@param opts summit.rollout.CanaryOptions
---@return { image: string, replicas: integer }
function rollout.promote(opts) end

---The stable back to full size, the route to 0, the canary deleted.
---@param opts summit.rollout.CanaryOptions
---@return { replicas: integer }
function rollout.abort(opts) end

---The canary through `steps`, each weight a step with `between` after it, then promote.
---@param opts summit.rollout.ProgressiveOptions
---@return summit.rollout.ProgressiveResult
function rollout.progressive(opts) end

---What runs now (one step, no change).
---@param opts summit.rollout.BlueGreenOptions
---@return summit.rollout.Status
function rollout.status(opts) end

return rollout
