---@meta
-- Annotations for lua-language-server: the globals summit gives a runbook
-- (docs/api.md). Never loaded by summit itself. Point the language server at
-- this directory with workspace.library (see .luarc.json at the repo root).
--
-- Beyond these, a runbook sees only: assert, error, ipairs, next, pairs,
-- pcall, xpcall, select, tonumber, tostring, type, unpack, rawequal, rawget,
-- rawset, setmetatable, getmetatable, _VERSION, _G, string, table, bit,
-- math (no randomseed) and os.date/difftime/clock/time. io, load*, dofile,
-- coroutine, debug, package and the rest of os are not there.

---A duration: seconds as a number (or a string of digits), or units from
---largest to smallest: "500ms", "30s", "15m", "1h30m", "2d".
---@alias summit.Duration number|string

---The value of every error summit raises. Prints as "[where: ]CODE: message".
---@class summit.Error
---@field code string EFAIL, EEXIT, ETIMEDOUT, ECANCELED, ENOENT, EACCES, EHTTP, EBADJSON, EBADRESULT, ERUNBOOK, ...
---@field message string
---@field key? string Journal key of the innermost entry that failed
---@field where? string "file:line" of a fail() call
---@field retryable? boolean false: step retries do not retry this error
---@field exit_code? integer EEXIT: the exit status (-1 if killed by a signal)
---@field stdout? string EEXIT, ETIMEDOUT: captured output
---@field stderr? string EEXIT, ETIMEDOUT: captured output
---@field argv? string[] ETIMEDOUT, ECANCELED, ENOENT...: the command
---@field holder? string lock() ETIMEDOUT: the run holding the lock
---@field status? integer EHTTP, EBADJSON: the HTTP status
---@field body? string EHTTP: the start of the response body
---@field url? string http errors: the URL (credentials masked)
---@field files? table[] git ECONFLICT: the conflicting paths; EDIRTY: the changed files
---@field rejected? table[] git EREJECTED: the refused ref updates
---@field aborted? boolean git ECONFLICT: the merge was aborted (abort = true)
---@field error_type? string metrics EPROMQL: Prometheus's errorType (bad_data, execution, timeout, canceled, unavailable, internal, not_found)
---@field query? string metrics errors: the PromQL that failed
---@field template? string metrics ETEMPLATE: the query template
---@field variable? string metrics ETEMPLATE: the missing or bad variable
---@field series? integer metrics EMETRICS: how many series value() got

---@alias summit.ParamType "string"|"number"|"integer"|"boolean"

---One entry of a runbook's params schema.
---@class summit.ParamSpec
---@field type? summit.ParamType Default "string"
---@field required? boolean The run refuses to start without it (unless defaulted)
---@field default? string|number|boolean Used when not given; must have the declared type
---@field pattern? string Lua pattern the value must match (string params)
---@field enum? (string|number|boolean)[] Allowed values
---@field description? string Shown when a required param is missing
---@field secret? boolean A string never stored, redacted as [secret:NAME] everywhere; no default (docs/secrets.md)
---@field env? string A secret param's value from this environment variable when not given with -p
---@field file? string A secret param's value from this file when not given with -p

---What a runbook file returns: `return runbook { ... }`.
---@class summit.RunbookDef
---@field name string
---@field version? string
---@field description? string
---@field params? table<string, summit.ParamSpec>
---Environments the run locks ("env:NAME") for its whole life: a name, a list,
---true for the --env one, or a function(params, env_name) returning those.
---@field environment? string|string[]|boolean|fun(params: table<string, any>, env_name: string?): (string|string[]|boolean|nil)
---@field run fun(params: table<string, any>): any

---The definition returned by runbook{...}.
---@class summit.Runbook: summit.RunbookDef
---@field params table<string, summit.ParamSpec>

---@alias summit.Backoff "exponential"|"fixed"|summit.BackoffSpec

---@class summit.BackoffSpec
---@field initial? summit.Duration First delay (default 1s)
---@field max? summit.Duration Longest delay (default 100 x initial)
---@field factor? number Growth per try, >= 1 (default 2)
---@field jitter? boolean Vary each delay by up to 20% (default true)
---@field type? "fixed" Always wait `initial`

---The table form of step: step{ "name", function() ... end, retries = 3 }.
---@class summit.StepSpec
---@field [1] string? The name (or `name`)
---@field [2] (fun(): ...)? The body (or `fn`)
---@field name? string
---@field fn? fun(): ...
---@field idempotent? boolean false: a command cut off by a crash stops the run as needs_attention
---@field retries? integer Tries after the first when the step fails
---@field backoff? summit.Backoff Delay between tries (needs retries)
---@field on_exhausted? "fail"|"pause" "pause": after the last try, stop as needs_attention
---@field timeout? summit.Duration Fail with ETIMEDOUT if still running then
---@field undo? fun(...): any Called with the step's results when the run fails or is cancelled with --rollback

---@class summit.ExecOptions
---@field cwd? string Directory to run in (default: summit's working directory)
---@field env? table<string, string|number|false> Variables to set; false removes one; the rest is inherited
---@field input? string Written to stdin, which is then closed
---@field timeout? summit.Duration SIGTERM to the process group, SIGKILL 5 s later, then ETIMEDOUT
---@field check? boolean Default true: raise EEXIT on a non-zero exit or a signal
---@field secret_output? boolean stdout is a credential: the journal keeps only its SHA-256 (stdout_sha256); the call runs again when a resumed run reaches it (docs/secrets.md)
---@field max_output? integer Bytes of stdout and of stderr kept (default 1 MiB)
---@field idempotent? boolean Default true; false: cut off by a crash, the run stops as needs_attention
---@field accept? fun(result: summit.ExecResult): boolean, string? A result it refuses (false, why) fails the entry with ECHECK, so a resumed run runs the command again

---@class summit.ExecResult
---@field code integer Exit status; -1 if killed by a signal
---@field stdout string
---@field stderr string
---@field signal? integer The signal that killed it
---@field truncated? boolean Output was cut at max_output
---@field skipped? boolean An operator skipped this entry (resume --skip)

---@class summit.HttpOptions
---@field url? string http:// or https:// (required for http.request)
---@field method? string Default GET, or POST when there is a body
---@field headers? table<string, string> Secret ones (Authorization, cookies, tokens) are never stored
---@field body? string
---@field json? any Encoded as the body; JSON Content-Type and Accept; the response is decoded
---@field decode? "json" Decode the response body as JSON
---@field timeout? summit.Duration Default 30 s
---@field check? boolean true: a non-2xx status raises EHTTP (default false: it is a result)
---@field follow_redirects? boolean Default false
---@field max_redirects? integer Default 10
---@field max_response? integer Body bytes, default 16 MiB; more raises ETOOLARGE
---@field insecure? boolean Skip TLS verification
---@field ca_file? string
---@field ca? string PEM text of a CA
---@field cert? string Client certificate file
---@field key? string Client key file
---@field unix_socket? string Connect through this socket
---@field idempotent? boolean Default true; false: cut off by a crash, the run stops as needs_attention
---@field accept? fun(response: summit.HttpResponse): boolean, string? A response it refuses (false, why) fails the entry with ECHECK, so a resumed run asks again

---@class summit.HttpResponse
---@field status integer
---@field headers table<string, string> Lower-case names; secret values masked
---@field body string
---@field json? any The decoded body, when it is JSON
---@field url? string The final URL (credentials masked)

---Journaled HTTP requests: each runs once per run and its response replays.
---Errors: EHTTP (check), EBADJSON, ETIMEDOUT, ECONNREFUSED, ERESOLVE, ETLS, ETOOLARGE, ECANCELED.
---@class summit.http
http = {}

---@param opts summit.HttpOptions
---@return summit.HttpResponse
function http.request(opts) end

---@param url string
---@param opts? summit.HttpOptions
---@return summit.HttpResponse
function http.get(url, opts) end

---@param url string
---@param opts? summit.HttpOptions
---@return summit.HttpResponse
function http.head(url, opts) end

---@param url string
---@param opts? summit.HttpOptions
---@return summit.HttpResponse
function http.delete(url, opts) end

---@param url string
---@param opts? summit.HttpOptions
---@return summit.HttpResponse
function http.post(url, opts) end

---@param url string
---@param opts? summit.HttpOptions
---@return summit.HttpResponse
function http.put(url, opts) end

---@param url string
---@param opts? summit.HttpOptions
---@return summit.HttpResponse
function http.patch(url, opts) end

---@class summit.LockOptions
---@field timeout? summit.Duration Give up with ETIMEDOUT after this long

---@class summit.log
log = {}

---Writes an info line: string.format(fmt, ...), or tostring(fmt) alone.
---Not journaled; not printed again while a resumed run replays.
---@param fmt any
---@param ... any
function log.info(fmt, ...) end

---Writes a warning line.
---@param fmt any
---@param ... any
function log.warn(fmt, ...) end

---Writes an error line (it does not fail anything).
---@param fmt any
---@param ... any
function log.error(fmt, ...) end

---@class summit.json
---@field null lightuserdata Encodes as JSON null
json = {}

---Encodes a value as compact JSON. Tables with keys exactly 1..n and tables
---marked by json.array are arrays, other tables objects. Raises on functions, userdata, NaN, cycles.
---@param value any
---@return string
function json.encode(value) end

---Decodes JSON text; null becomes nil, an empty array comes back marked
---(see json.array). Raises "invalid JSON at byte N".
---@param text string
---@return any
function json.decode(text) end

---Marks t (a new table when nil) as an array: it encodes as [] even when
---empty (an unmarked empty table encodes as {}).
---@generic T: table
---@param t? T
---@return T
function json.array(t) end

---Whether v carries the array mark of json.array.
---@param v any
---@return boolean
function json.is_array(v) end

---The selected environment from summit.lua (--env NAME), with `name`;
---an empty table without --env.
---@type table<string, any>
env = {}

---Defines the runbook; a runbook file returns its result.
---@param def summit.RunbookDef
---@return summit.Runbook
function runbook(def) end

---Runs fn once per run and returns its results (JSON data), recorded in the
---journal; a resumed run gets the recorded results without running fn.
---Also step{ name, fn, idempotent =, retries =, backoff =, on_exhausted =, timeout =, undo = }.
---@overload fun(spec: summit.StepSpec): ...
---@param name string
---@param fn fun(): ...
---@return any ...
function step(name, fn) end

---Runs the functions concurrently; returns each one's first result under
---its key. The first failure cancels the other branches and is raised.
---Branch names: letters, digits, _ and -.
---@param branches table<string|integer, fun(): any>
---@return table<string|integer, any>
function parallel(branches) end

---Durable wait: the wake time is journaled, so a resumed run does not wait
---again; with --detach the run suspends instead.
---@param d summit.Duration
function sleep(d) end

---Journaled wall-clock time: seconds since the epoch, with milliseconds.
---@return number
function now() end

---Journaled random number: random() in [0, 1), random(n) in [1, n],
---random(m, n) in [m, n]. Same function as math.random.
---@overload fun(): number
---@overload fun(n: integer): integer
---@param m integer
---@param n integer
---@return integer
function random(m, n) end

---Fails the current step (and the run, unless caught) with code EFAIL.
---@param message any
---@param fields? table Extra error fields; retryable = false stops step retries
---@return never
function fail(message, fields) end

---Runs a command (argv list, never a shell string) and returns its result.
---Journaled: runs once per run. Raises EEXIT, ETIMEDOUT, ECANCELED, ENOENT...
---@param argv (string|number)[]
---@param opts? summit.ExecOptions
---@return summit.ExecResult
function exec(argv, opts) end

---Runs fn while this run holds the named lock (waiting while another live
---run holds it) and returns fn's results. Raises ETIMEDOUT on timeout.
---@param name string
---@param fn fun(): ...
---@param opts? summit.LockOptions
---@return any ...
function lock(name, fn, opts) end

-- ---------------------------------------------------------------------
-- audit (docs/audit.md): the hash-chained audit trail.

---@class summit.audit
audit = {}

---Adds a record to the audit trail, with the run's user as actor. Secrets
---in detail (credential-like keys, Bearer tokens, URL passwords, ...) are
---masked before it is hashed. Journaled (kind "audit"): a resumed run does
---not record it twice. Raises at once for an empty action or a detail that
---is not a JSON table.
---@param action string Your name for it, e.g. "checklist.ack"
---@param detail? table<string, any> JSON values (default {})
function audit.record(action, detail) end

-- ---------------------------------------------------------------------
-- notify (docs/notifications.md): webhooks to summit.lua's channels.

---@class summit.NotifyOptions
---@field channel? string A name in summit.lua's notifications.channels (default: notifications.default, else the only channel)
---@field level? "info"|"warn"|"error" Default "info"
---@field fields? table<string, any> Values shown with the message (Slack: a fields section, at most 10)

---@class summit.NotifyResult
---@field delivered boolean The webhook answered 2xx
---@field channel? string
---@field status? integer The webhook's HTTP status (delivered)
---@field tries? integer How many tries it took (delivered)
---@field error? string Why it was not delivered (after the channel's retries)

---Sends message to a notification channel (Slack-format JSON, or the
---generic payload). Never raises for delivery: an undelivered notification
---is retried, logged, journaled as failed (ENOTIFY), audited as
---notify.failed, and returned with delivered = false. Journaled (kind
---"notify"): a resumed run does not send it again. Raises at once for a
---bad message, level, fields or option, or an unknown channel.
---@param message string
---@param opts? summit.NotifyOptions
---@return summit.NotifyResult
function notify(message, opts) end

-- ---------------------------------------------------------------------
-- approval (docs/approvals.md): gates people approve.

---@alias summit.OnTimeout "fail"|"pause"|"rollback"

---@class summit.ApprovalSpec
---@field gate string The gate's name; a gate named after an environment takes environments[gate].approval from summit.lua as a floor
---@field count? integer Approvals needed (default 1, at most 100)
---@field roles? string[]|table<string, integer> A list: one approval from a holder of any of them (the rest from anyone); a map: per-role minimums. Roles come from approvers in summit.lua
---@field distinct? boolean The same person twice counts once (default true)
---@field allow_self? boolean The person who started the run may approve it (default false)
---@field timeout? summit.Duration How long the gate stays open (default: for ever)
---@field on_timeout? summit.OnTimeout "fail" (default: ETIMEDOUT, no undo, resumable), "rollback" (ETIMEDOUT, the undo path runs) or "pause" (stays open, overdue)
---@field reason? string Shown to approvers
---@field bind? table<string, string|number|boolean> What is approved (version, digest, commit): an approval is for exactly these values
---@field signed? boolean Only approvals signed with an SSH key in summit.lua's allowed_signers count

---One approval that counted.
---@class summit.Approver
---@field actor string $SUMMIT_USER of the approver, or the principal of the signing key
---@field roles string[] The actor's roles in summit.lua's approvers
---@field comment? string
---@field ts string When (RFC 3339, UTC)
---@field signed? boolean A verified SSH signature

---@class summit.ApprovalResult
---@field gate string
---@field bind table<string, string|number|boolean>
---@field approvers summit.Approver[]

---@class summit.approval
approval = {}

---Waits until the gate is approved (`summit approve RUN --gate G`); a
---`--detach` run suspends (exit 3). Journaled: a released gate replays.
---Raises EREJECTED (fields gate, by, comment) when someone allowed to approve
---rejects it, ETIMEDOUT (gate, have, need) at the timeout, ECANCELED; misuse
---raises at once naming the option.
---@param spec summit.ApprovalSpec
---@return summit.ApprovalResult
function approval.require(spec) end

-- ---------------------------------------------------------------------
-- git (docs/git.md): the git CLI, one journal entry per call.

---Options every git call takes (its last argument).
---@class summit.GitOptions
---@field cwd? string Directory to run git in (default: the directory of summit.lua, else the working directory); relative to the working directory
---@field timeout? summit.Duration Stop git and raise ETIMEDOUT
---@field env? table<string, string|false> Extra variables for git; false removes one
---@field idempotent? boolean Calls that change things: false -> cut off by a crash, the run stops as needs_attention

---@alias summit.GitFileStatus "modified"|"added"|"deleted"|"renamed"|"copied"|"untracked"|"conflicted"

---@class summit.GitFile
---@field path string From the top of the working tree
---@field status summit.GitFileStatus The staged change if any, else the working tree's
---@field staged boolean The index holds a change of this path
---@field index? summit.GitFileStatus The change in the index
---@field worktree? summit.GitFileStatus The change in the working tree
---@field old_path? string Renamed or copied: the former path
---@field conflict? string Conflicted: git's code (UU, AA, DU, ...)

---@class summit.GitStatus
---@field clean boolean No files listed
---@field branch? string nil when HEAD is detached
---@field detached boolean
---@field commit? string HEAD; nil on a branch with no commit yet
---@field upstream? string e.g. "origin/main"
---@field ahead integer Commits the upstream lacks (0 without an upstream)
---@field behind integer Commits of the upstream not here, as of the last fetch
---@field files summit.GitFile[]

---@class summit.GitStatusOptions: summit.GitOptions
---@field untracked? boolean false: leave untracked files out

---@class summit.GitCommit
---@field commit string
---@field author string
---@field email string
---@field date string Author date, ISO 8601 with offset
---@field parents string[]
---@field subject string
---@field body string

---@class summit.GitLogOptions: summit.GitOptions
---@field max? integer
---@field paths? string|string[]
---@field first_parent? boolean
---@field no_merges? boolean

---@class summit.GitChange
---@field path string
---@field status "added"|"modified"|"deleted"|"renamed"|"copied"
---@field old_path? string

---@class summit.GitChangedOptions: summit.GitOptions
---@field paths? string|string[] Only changes under these
---@field merge_base? boolean Compare with where `to` left `from` (from...to)

---@class summit.GitDescribeOptions: summit.GitOptions
---@field tags? boolean Lightweight tags count too
---@field always? boolean Fall back to the abbreviated commit
---@field abbrev? integer
---@field match? string Glob
---@field dirty? boolean Append -dirty (not with a ref)

---@class summit.GitRevOptions: summit.GitOptions
---@field short? boolean Abbreviated
---@field peel? boolean Default true: a tag resolves to its commit

---@class summit.GitTagsOptions: summit.GitOptions
---@field pattern? string Glob, e.g. "v4.*"
---@field sort? string A git sort key: "version:refname", "-version:refname", "-creatordate"
---@field merged? string Only tags reachable from this ref
---@field contains? string Only tags containing this commit

---@class summit.GitAddOptions: summit.GitOptions
---@field all? boolean Stage every change (git add --all)

---@class summit.GitCommitOptions: summit.GitOptions
---@field all? boolean git commit -a
---@field paths? string|string[] Commit exactly these files
---@field allow_empty? boolean
---@field sign? boolean -S, key and format from git's config
---@field author? string "Name <email>"
---@field no_verify? boolean Skip the commit hooks

---@class summit.GitCommitResult
---@field commit string
---@field branch? string
---@field subject string
---@field recovered? boolean Found made after a crash

---@class summit.GitBranchOptions: summit.GitOptions
---@field start? string Where the branch starts (default HEAD)
---@field force? boolean Move an existing branch

---@class summit.GitCheckoutOptions: summit.GitOptions
---@field create? boolean Create a branch named ref (-b)
---@field start? string With create: its start
---@field force? boolean Discard local changes in the way

---@class summit.GitCheckoutResult
---@field branch? string nil when detached
---@field commit string
---@field detached boolean
---@field recovered? boolean

---@class summit.GitTagOptions: summit.GitOptions
---@field message? string Annotated tag with this message
---@field annotate? boolean Annotated even without a message
---@field sign? boolean Signed tag (git tag -s), key and format from git's config
---@field ref? string What to tag (default HEAD)
---@field force? boolean Replace an existing tag

---@class summit.GitTagResult
---@field name string
---@field commit string The tagged commit
---@field object string The tag object (annotated) or the commit (lightweight)
---@field annotated boolean
---@field signed boolean
---@field recovered? boolean Found made after a crash

---@class summit.GitPushOptions: summit.GitOptions
---@field tags? boolean
---@field follow_tags? boolean
---@field set_upstream? boolean
---@field force? boolean
---@field force_with_lease? boolean
---@field atomic? boolean
---@field delete? boolean

---@class summit.GitPushUpdate
---@field ref string The remote ref, e.g. "refs/heads/main"
---@field from? string The local ref
---@field status "new"|"fast_forward"|"forced"|"deleted"|"up_to_date"|"rejected"
---@field summary string

---@class summit.GitFetchOptions: summit.GitOptions
---@field all? boolean
---@field tags? boolean
---@field prune? boolean

---@class summit.GitMergeOptions: summit.GitOptions
---@field ff? "only"|boolean "only": fast-forward or fail; false: always a merge commit
---@field message? string
---@field abort? boolean git merge --abort after a conflict

---@class summit.GitMergeResult
---@field commit string HEAD after
---@field before string HEAD before
---@field merged string The commit of ref
---@field fast_forward boolean
---@field up_to_date boolean

---@class summit.GitPullOptions: summit.GitOptions
---@field rebase? boolean
---@field ff_only? boolean Default true (unless rebase)
---@field abort? boolean Abort the merge or rebase after a conflict

---The git CLI (your config, credentials, SSH agent and signing apply).
---Each call is one journal entry of kind "git"; a resumed run gets the
---recorded result. Errors: EGIT {stderr, stdout, exit_code, argv},
---ECONFLICT {files, aborted}, EDIRTY {files}, EREJECTED {rejected},
---ETIMEDOUT, ECANCELED, ENOENT.
---@class summit.git
git = {}

---@param opts? summit.GitStatusOptions
---@return summit.GitStatus
function git.status(opts) end

---The status, or raises EDIRTY with `files`.
---@param opts? summit.GitStatusOptions
---@return summit.GitStatus
function git.require_clean(opts) end

---HEAD's commit; nil on a branch with no commit yet.
---@param opts? summit.GitRevOptions
---@return string?
function git.head(opts) end

---The commit a ref names (tags peeled unless peel = false). Unknown: EGIT.
---@param ref string
---@param opts? summit.GitRevOptions
---@return string
function git.rev_parse(ref, opts) end

---The checked-out branch; nil when HEAD is detached.
---@param opts? summit.GitOptions
---@return string?
function git.current_branch(opts) end

---The top directory of the working tree.
---@param opts? summit.GitOptions
---@return string
function git.root(opts) end

---A remote's URL (default "origin"), credentials masked.
---@overload fun(opts?: summit.GitOptions): string
---@param name string
---@param opts? summit.GitOptions
---@return string
function git.remote_url(name, opts) end

---@param opts? summit.GitTagsOptions
---@return string[]
function git.tags(opts) end

---@param name string
---@param opts? summit.GitOptions
---@return boolean
function git.tag_exists(name, opts) end

---Commits newest first; range: a ref or "a..b" (default HEAD).
---@overload fun(opts?: summit.GitLogOptions): summit.GitCommit[]
---@param range string
---@param opts? summit.GitLogOptions
---@return summit.GitCommit[]
function git.log(range, opts) end

---@overload fun(opts?: summit.GitDescribeOptions): string
---@param ref string
---@param opts? summit.GitDescribeOptions
---@return string
function git.describe(ref, opts) end

---Whether commit a is an ancestor of b (default HEAD).
---@overload fun(a: string, opts?: summit.GitOptions): boolean
---@param a string
---@param b string
---@param opts? summit.GitOptions
---@return boolean
function git.is_ancestor(a, b, opts) end

---What differs between two commits (to defaults to HEAD).
---@overload fun(from: string, opts?: summit.GitChangedOptions): summit.GitChange[]
---@param from string
---@param to string
---@param opts? summit.GitChangedOptions
---@return summit.GitChange[]
function git.changed_files(from, to, opts) end

---Stages paths (or every change with all = true).
---@overload fun(opts: summit.GitAddOptions)
---@param paths string|string[]
---@param opts? summit.GitAddOptions
function git.add(paths, opts) end

---@param message string
---@param opts? summit.GitCommitOptions
---@return summit.GitCommitResult
function git.commit(message, opts) end

---Creates a branch without switching to it.
---@param name string
---@param opts? summit.GitBranchOptions
---@return { name: string, commit: string, recovered?: boolean }
function git.branch(name, opts) end

---Local changes in the way raise EDIRTY.
---@param ref string
---@param opts? summit.GitCheckoutOptions
---@return summit.GitCheckoutResult
function git.checkout(ref, opts) end

---@param name string
---@param opts? summit.GitTagOptions
---@return summit.GitTagResult
function git.tag(name, opts) end

---A refused ref raises EREJECTED.
---@overload fun(opts?: summit.GitPushOptions): { remote?: string, updates: summit.GitPushUpdate[] }
---@param remote string
---@param refs? string|string[]
---@param opts? summit.GitPushOptions
---@return { remote?: string, updates: summit.GitPushUpdate[] }
function git.push(remote, refs, opts) end

---@overload fun(opts?: summit.GitFetchOptions): { remote?: string }
---@param remote string
---@param refs? string|string[]
---@param opts? summit.GitFetchOptions
---@return { remote?: string }
function git.fetch(remote, refs, opts) end

---Conflicts raise ECONFLICT with files; local changes in the way EDIRTY.
---@param ref string
---@param opts? summit.GitMergeOptions
---@return summit.GitMergeResult
function git.merge(ref, opts) end

---Fast-forward only by default.
---@overload fun(opts?: summit.GitPullOptions): { before?: string, commit?: string, updated: boolean }
---@param remote string
---@param branch? string
---@param opts? summit.GitPullOptions
---@return { before?: string, commit?: string, updated: boolean }
function git.pull(remote, branch, opts) end

-- ---------------------------------------------------------------------
-- metrics (docs/metrics.md): PromQL over Prometheus's HTTP API, or a
-- query of another provider (web, datadog, cloudwatch), one journal
-- entry per query. Values are numbers: NaN (test with v ~= v),
-- math.huge and -math.huge are kept distinct; no data is nil.

---@class summit.MetricsSample
---@field labels table<string, string> The series' labels (with __name__ for a bare selector)
---@field value number The sample (a string only for a string result)
---@field time number|string Evaluation time (unix seconds from Prometheus)

---A scalar result comes as one sample with no labels.
---@alias summit.MetricsVector summit.MetricsSample[]

---@class summit.MetricsSeries
---@field labels table<string, string>
---@field values [number, number][] { {unix seconds, value}, ... }

---@alias summit.MetricsMatrix summit.MetricsSeries[]

---@class summit.MetricsQueryOptions
---@field time? number|string Evaluation time: unix seconds or RFC 3339 (default: now, recorded in the journal)
---@field provider? string A name of metrics.providers (default: summit.lua's metrics.provider, else "prometheus")

---A PromQL or Datadog query, a CloudWatch expression, a web URL or path;
---or a table: a web query { url|path, json_path, method, body, headers }
---or a CloudWatch one { namespace, metric, stat, dimensions, period } /
---{ expression } / { queries = MetricDataQueries }.
---@alias summit.MetricsQuery string|table

---@class summit.MetricsRangeOptions
---@field start? number|string First point: unix seconds or RFC 3339 (or give since)
---@field since? summit.Duration Instead of start: this long before stop
---@field stop? number|string Last point (default: now, recorded in the journal)
---@field step? summit.Duration Resolution (default: (stop - start) / 100, at least 1 s)
---@field provider? string A name of metrics.providers

---@class summit.MetricsSpec
---@field url? string Prometheus base URL, e.g. "http://127.0.0.1:9090"
---@field headers? table<string, string> Sent with every query (secret ones are never stored)
---@field timeout? summit.Duration Per query (default "10s"), also sent as Prometheus's timeout
---@field queries? table<string, string> Named templates with {{variable}} placeholders
---@field cluster? string|table A simulated cluster (its name in summit.lua, or a cluster{ sim = true } value) whose own query API to use
---@field provider? string The provider of queries that name none
---@field providers? table<string, table> name = { type = "web"|"datadog"|"cloudwatch"|"prometheus", ... } (docs/metrics.md#providers)

---@class summit.MetricsClient
local MetricsClient = {}
---@param promql summit.MetricsQuery
---@param opts? summit.MetricsQueryOptions
---@return summit.MetricsVector
function MetricsClient:query(promql, opts) end
---@param promql summit.MetricsQuery
---@param opts? summit.MetricsQueryOptions
---@return number|nil
function MetricsClient:value(promql, opts) end
---@param promql summit.MetricsQuery
---@param opts summit.MetricsRangeOptions
---@return summit.MetricsMatrix
function MetricsClient:range(promql, opts) end
---@param name string
---@param vars? table<string, string|number|boolean>
---@param opts? summit.MetricsQueryOptions
---@return number|nil
function MetricsClient:get(name, vars, opts) end
---@param name string
---@param vars? table<string, string|number|boolean>
---@return summit.MetricsQuery query
---@return string provider
function MetricsClient:render(name, vars) end

---Prometheus queries, and other providers' (summit.lua `metrics`, the
---environment's `metrics` over it). Raises EPROMQL (error_type), EHTTP, EBADJSON, ECONNREFUSED,
---ETIMEDOUT..., EMETRICS, ETEMPLATE, ENOMETRICS.
---@class summit.metrics
metrics = {}

---Instant query: the series of the result, each { labels, value }.
---@param promql summit.MetricsQuery
---@param opts? summit.MetricsQueryOptions
---@return summit.MetricsVector
function metrics.query(promql, opts) end

---Instant query of one value: a number (NaN, math.huge, -math.huge
---included), or nil when the result is empty. More than one series raises
---EMETRICS.
---@param promql summit.MetricsQuery
---@param opts? summit.MetricsQueryOptions
---@return number|nil
function metrics.value(promql, opts) end

---Range query: one series per label set, each with its {t, v} points.
---@param promql summit.MetricsQuery
---@param opts summit.MetricsRangeOptions
---@return summit.MetricsMatrix
function metrics.range(promql, opts) end

---value() of the named template metrics.queries[name], rendered with vars;
---the journal entry is named after the template.
---@param name string
---@param vars? table<string, string|number|boolean>
---@param opts? summit.MetricsQueryOptions
---@return number|nil
function metrics.get(name, vars, opts) end

---The PromQL of a named template, vars substituted and escaped for
---"..." label values. Raises ETEMPLATE naming a missing variable.
---@param name string
---@param vars? table<string, string|number|boolean>
---@return summit.MetricsQuery query
---@return string provider
function metrics.render(name, vars) end

---Fills {{name}} placeholders of a PromQL text, escaped as in templates.
---@param text string
---@param vars? table<string, string|number|boolean>
---@return string
function metrics.expand(text, vars) end

---A value escaped for the inside of a PromQL double-quoted string.
---@param value string|number
---@return string
function metrics.escape(value) end

---A Prometheus sample string ("0.5", "NaN", "+Inf", "-Inf") as a number.
---@param s string|number
---@return number|nil
function metrics.number(s) end

---A client with its own settings; what spec leaves out comes from summit.lua.
---@param spec? summit.MetricsSpec
---@return summit.MetricsClient
function metrics.client(spec) end
