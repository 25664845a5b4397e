---@meta summit.release
-- Annotations for lua-language-server: require("summit.release")
-- (docs/runbooks/deploy.md#the-summitrelease-module). Never loaded by summit itself.

---@class summit.release.Settings
---@field version string The release (v4.0.5)
---@field image_ref string The image, from the `image` template
---@field app string
---@field strategy "blue-green"|"progressive"|"canary"|"rolling"
---@field skip table<string, boolean> Phases to leave out
---@field git boolean|string false, true (summit.lua's directory) or a repository path
---@field remote? string
---@field main string
---@field environments table<string, string> Phase role -> environment name
---@field justification? string
---@field [string] any Every other default of release.DEFAULTS, defaults.release or a param

---@class summit.release.Target
---@field env table The environment's table from summit.lua, with name
---@field name string
---@field k summit.ClusterClient The cluster client
---@field namespace? string
---@field app string
---@field deployment string
---@field url? string
---@field traffic? number
---@field route? summit.rollout.Route The environment's traffic router (summit.lua route =)

---@class summit.release.Verdict
---@field ok boolean
---@field verdict "passed"|"failed"
---@field env string
---@field checks table[] { name, ok, result?, error? } per check
---@field flags table[] { flag, want, have, ok }
---@field failed string[] What failed
---@field metrics { verdict: string, reason: string }

---@class summit.release
---@field STRATEGIES string[]
---@field PHASES string[]
---@field DEFAULTS table
---@field VERSION_PATTERN string The pattern of a release version param (v1.2.3, 1.2.3-rc.1)
local release = {}

---A runbook's `environment` field: the environments of these roles
---(defaults.release.environments), e.g. release.environments("staging", "production").
---@param ... string Roles
---@return fun(p: table): string[]
function release.environments(...) end

---The settings of a run: defaults, then summit.lua's defaults.release, then the params.
---@param p? table The run's params
---@return summit.release.Settings
function release.settings(p) end

---Whether a phase is skipped (logs it when so).
---@param s summit.release.Settings
---@param phase string
---@return boolean
function release.skipped(s, phase) end

---A copy of environments[name] with .name (ECONFIG when missing).
---@param name string
---@return table
function release.env(name) end

---Where a phase acts: "staging", "canary", "production" or an environment's name.
---@param role string
---@param s? summit.release.Settings
---@return summit.release.Target
function release.target(role, s) end

---@param name string
---@return boolean
function release.has_command(name) end

---A configured command as a check; opts.optional skips it when not configured.
---@param name string
---@param args? string[]
---@param opts? table checks.command options, plus optional and what
---@return table
function release.command(name, args, opts) end

---Logs, audits release.EVENT and POSTs to defaults.release.webhook.
---@param event string
---@param detail? table
function release.notify(event, detail) end

---The deployment window (EWINDOW), or an override gate when s.justification is set.
---@param role string
---@param s? summit.release.Settings
---@return table detail
function release.window(role, s) end

---The seed's pre-deployment checklist.
---@param s summit.release.Settings
---@return table
function release.checklist(s) end

---Clean tree, release branch, bump, changelog, preflight commands, push.
---@param s summit.release.Settings
---@return table
function release.prepare(s) end

---Merge, deploy, rollout status, tests, health, migration status.
---@param s summit.release.Settings
---@param o? { merge: boolean }
---@return table
function release.staging(s, o) end

---Sets the image and waits; rolled back in place when it never becomes ready.
---@param t summit.release.Target
---@param image string
---@param s summit.release.Settings
---@param tag? string
---@return { image: string, previous: string }
function release.deploy_image(t, image, s, tag) end

---@param t summit.release.Target
---@param s summit.release.Settings
function release.health(t, s) end

---@param t summit.release.Target
---@param s summit.release.Settings
function release.migration_status(t, s) end

---The seed's canary analysis (summit.canary verdict).
---@param s summit.release.Settings
---@param t summit.release.Target
---@param name? string
---@return table
function release.analyze(s, t, name) end

---The canary at its weight, analysed; aborted and ECANARY on a bad verdict.
---@param s summit.release.Settings
---@return table verdict
function release.canary(s) end

---The production gate: a Platform Lead and a Senior Engineer by default.
---@param s summit.release.Settings
---@param extra? table approval.require options over the defaults
---@return table
function release.approve_production(s, extra) end

---A monitoring pause: sleep monitor_wait, one measurement (EMONITOR).
---@param s summit.release.Settings
---@param t summit.release.Target
---@param label string
---@param track? string
function release.monitor(s, t, label, track) end

---The production strategy (blue-green, progressive, canary or rolling).
---@param s summit.release.Settings
---@return table
function release.production(s) end

---Smoke, critical paths, error rate and P95, feature flags; never raises for a failed check.
---@param s summit.release.Settings
---@param role? string Default "production"
---@return summit.release.Verdict
function release.verify(s, role) end

---Tag, release notes, SBOM, provenance, upload, notification.
---@param s summit.release.Settings
---@param extra? table Added to the release.released record
---@return table
function release.finalize(s, extra) end

return release
