-- The `git` global of a runbook: the git CLI through summit's process
-- machinery (summit.c.exec, argv only, never a shell), so the user's git
-- config, credential helpers, SSH agent and signing settings apply.
--
-- Every call is one journal entry of kind "git": a resumed run gets the
-- recorded result and git does not run again. Calls that only read are
-- plain entries (found in flight after a crash they simply run again);
-- calls that change a repository or a remote are effects (see
-- docs/git.md for what each does when it was in flight at a crash).
--
-- Output is read in git's quoted line formats, not -z: the process layer
-- hands output to Lua as text, with NUL bytes replaced, so NUL separators
-- would not survive. Paths that need it come C-quoted ("a\tb") and are
-- unquoted here; tab-separated fields cannot be confused with a path
-- because a tab inside a path is always quoted.
local E = require("summit.engine")
local T = require("summit.c.task")
local X = require("summit.c.exec")
local json = require("summit.json")
local errors = require("summit.errors")
local argcheck = require("summit.args")

local M = {}

local MAX_OUTPUT = 16 * 1024 * 1024

local argerr = argcheck.raiser("git.")

-- ---------------------------------------------------------------------
-- Text helpers (pure; no process).

-- unquote(s) -> s without git's C-style quoting ("\"a\\tb\"" -> "a<TAB>b").
local ESC = { a = "\a", b = "\b", t = "\t", n = "\n", v = "\v", f = "\f", r = "\r",
              ['"'] = '"', ["\\"] = "\\" }
local function unquote(s)
  if s:sub(1, 1) ~= '"' or s:sub(-1) ~= '"' or #s < 2 then return s end
  s = s:sub(2, -2)
  return (s:gsub("\\([0-7][0-7][0-7])", function(o) return string.char(tonumber(o, 8)) end)
           :gsub("\\(.)", function(c) return ESC[c] or ("\\" .. c) end))
end
M._unquote = unquote

-- Masks the credentials of URLs in text (https://user:token@host ->
-- https://[redacted]@host). ssh-style user names without a password stay.
local MASK = "[redacted]"
local function mask_urls(s)
  if type(s) ~= "string" then return s end
  return (s:gsub("(%a[%w+.-]*)://([^/@%s'\"]+)@", function(scheme, userinfo)
    local sc = scheme:lower()
    if sc == "http" or sc == "https" or userinfo:find(":", 1, true) then
      return scheme .. "://" .. MASK .. "@"
    end
  end))
end
M._mask_urls = mask_urls

-- A copy of argv with URL credentials masked (a remote given as a URL).
local function masked(argv)
  local t = {}
  for i, a in ipairs(argv) do t[i] = mask_urls(a) end
  return t
end

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

local function lines(s)
  local t = {}
  for line in s:gmatch("[^\n]+") do t[#t + 1] = line end
  return t
end

local function tail(s, n)
  s = trim(s or "")
  if #s > n then s = "..." .. s:sub(-n) end
  return s
end

local STATUS_WORD = { M = "modified", T = "modified", A = "added", D = "deleted",
                      R = "renamed", C = "copied", U = "conflicted" }

-- Fields of a line: the first n space-separated fields, then the rest.
local function fields(line, n)
  local t, pos = {}, 1
  for i = 1, n do
    local s, e = line:find(" ", pos, true)
    if not s then return nil end
    t[i] = line:sub(pos, s - 1)
    pos = e + 1
  end
  return t, line:sub(pos)
end

-- parse_status(text) -> { clean, branch, detached, commit, upstream, ahead,
-- behind, files = { {path, status, staged, index, worktree, old_path} } }
-- from `git status --porcelain=v2 --branch` (without -z).
function M._parse_status(text)
  local st = { ahead = 0, behind = 0, detached = false, files = {} }
  for _, line in ipairs(lines(text)) do
    local kind = line:sub(1, 1)
    if kind == "#" then
      local key, val = line:match("^# (%S+) (.*)$")
      if key == "branch.oid" then
        st.commit = val ~= "(initial)" and val or nil
      elseif key == "branch.head" then
        if val == "(detached)" then st.detached = true else st.branch = val end
      elseif key == "branch.upstream" then
        st.upstream = val
      elseif key == "branch.ab" then
        local a, b = val:match("^%+(%d+) %-(%d+)$")
        st.ahead, st.behind = tonumber(a) or 0, tonumber(b) or 0
      end
    elseif kind == "1" or kind == "2" then
      local f, rest = fields(line, kind == "1" and 8 or 9)
      if not f then error("unexpected git status line: " .. line, 0) end
      local x, y = f[2]:sub(1, 1), f[2]:sub(2, 2)
      local file = {
        staged = x ~= ".",
        index = STATUS_WORD[x], worktree = STATUS_WORD[y],
        status = STATUS_WORD[x ~= "." and x or y] or "modified",
      }
      if kind == "2" then
        local path, orig = rest:match("^([^\t]*)\t(.*)$")
        if not path then error("unexpected git status line: " .. line, 0) end
        file.path, file.old_path = unquote(path), unquote(orig)
      else
        file.path = unquote(rest)
      end
      st.files[#st.files + 1] = file
    elseif kind == "u" then
      local f, rest = fields(line, 10)
      if not f then error("unexpected git status line: " .. line, 0) end
      st.files[#st.files + 1] = { path = unquote(rest), status = "conflicted",
                                  staged = false, conflict = f[2] }
    elseif kind == "?" then
      st.files[#st.files + 1] = { path = unquote(line:sub(3)), status = "untracked",
                                  staged = false }
    end
  end
  st.clean = #st.files == 0
  return st
end

-- parse_name_status(text) -> { {path, status, old_path} } from
-- `git diff --name-status` (without -z).
function M._parse_name_status(text)
  local files = {}
  for _, line in ipairs(lines(text)) do
    local code, a, b = line:match("^(%u)%d*\t([^\t]*)\t?(.*)$")
    if not code then error("unexpected git diff line: " .. line, 0) end
    local f = { status = STATUS_WORD[code] or "modified" }
    if b ~= "" then f.old_path, f.path = unquote(a), unquote(b)
    else f.path = unquote(a) end
    files[#files + 1] = f
  end
  return files
end

-- Log records: fields separated by US (0x1f), records ended by RS (0x1e);
-- neither occurs in real commit messages (NUL would be cleaner, but the
-- process layer cannot carry it).
local LOG_FORMAT = "--format=%H%x1f%an%x1f%ae%x1f%aI%x1f%P%x1f%s%x1f%b%x1e"

function M._parse_log(text)
  local out = {}
  for rec in text:gmatch("([^\30]*)\30") do
    rec = rec:gsub("^\n", "")
    local f = {}
    for v in (rec .. "\31"):gmatch("([^\31]*)\31") do f[#f + 1] = v end
    if #f ~= 7 then error("unexpected git log record: " .. rec:sub(1, 200), 0) end
    local parents = {}
    for p in f[5]:gmatch("%x+") do parents[#parents + 1] = p end
    out[#out + 1] = { commit = f[1], author = f[2], email = f[3], date = f[4],
                      parents = parents, subject = f[6], body = trim(f[7]) }
  end
  return out
end

-- ---------------------------------------------------------------------
-- Arguments.

-- Options every call takes; each function adds its own.
local COMMON = { cwd = "string", timeout = "any", env = "table", idempotent = "boolean" }

-- check_opts(fname, o, own) -> o (a table): unknown keys and wrong types
-- raise at once, naming the option.
local function check_opts(fname, opts, own)
  if opts == nil then return {} end
  if type(opts) ~= "table" then argerr(fname, "opts", "a table expected", 4) end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  for k, v in pairs(opts) do
    local want = COMMON[k] or (own and own[k])
    if not want then
      local known = {}
      for n in pairs(COMMON) do known[n] = true end
      for n in pairs(own or {}) do known[n] = true end
      argerr(fname, tostring(k), "unknown option; known: " .. argcheck.known(known), 4)
    end
    if want == "list" then
      if type(v) == "string" then
        o[k] = { v }
      elseif type(v) ~= "table" then
        argerr(fname, k, "a string or a list of strings expected", 4)
      else
        for i = 1, #v do
          if type(v[i]) ~= "string" then argerr(fname, k, k .. "[" .. i .. "] is not a string", 4) end
        end
      end
    elseif want == "string|boolean" then
      if type(v) ~= "string" and type(v) ~= "boolean" then
        argerr(fname, k, "a string or a boolean expected", 4)
      end
    elseif want == "integer" then
      if type(v) ~= "number" or v < 0 or v ~= math.floor(v) then
        argerr(fname, k, "a whole number >= 0 expected", 4)
      end
    elseif want ~= "any" and type(v) ~= want then
      argerr(fname, k, "a " .. want .. " expected, got a " .. type(v), 4)
    end
  end
  if o.timeout ~= nil then argcheck.duration("git." .. fname, "timeout", o.timeout, 4) end
  for k, v in pairs(o.env or {}) do
    if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number" and v ~= false) then
      argerr(fname, "env", "names must be strings and values strings, numbers or false", 4)
    end
  end
  return o
end

-- A ref, a branch, a tag or a remote name: a non-empty string that git
-- cannot take for an option.
local function check_name(fname, arg, v, optional, level)
  if v == nil and optional then return nil end
  if type(v) ~= "string" or v == "" then
    argerr(fname, arg, "a non-empty string expected", (level or 3) + 1)
  end
  if v:sub(1, 1) == "-" then
    argerr(fname, arg, "'" .. v .. "' starts with '-'", (level or 3) + 1)
  end
  return v
end

-- A string or a list of strings -> a list.
local function check_list(fname, arg, v, level)
  if type(v) == "string" then v = { v } end
  if type(v) ~= "table" or #v == 0 then
    argerr(fname, arg, "a string or a non-empty list of strings expected", (level or 3) + 1)
  end
  local t = {}
  for i = 1, #v do
    if type(v[i]) ~= "string" or v[i] == "" then
      argerr(fname, arg, arg .. "[" .. i .. "] is not a non-empty string", (level or 3) + 1)
    end
    t[i] = v[i]
  end
  return t
end

-- The directory git runs in: opts.cwd (a relative one is relative to
-- summit's working directory, as for exec), else the directory of
-- summit.lua, else summit's working directory (nil).
local function workdir(o)
  if o.cwd ~= nil then return o.cwd end
  local path = require("summit.config").path
  if not path then return nil end
  return path:match("^(.*)/[^/]*$") or "."
end

-- ---------------------------------------------------------------------
-- Running git.

-- A call in progress: what the body of an entry uses to run git.
local Call = {}
local CallMT = { __index = Call }

-- run(args, accept) -> result {code, stdout, stderr}. Exit codes other
-- than 0 and those in `accept` raise EGIT with git's stderr.
function Call:run(args, accept, extra)
  local argv = { "git", "-c", "core.quotePath=false" }
  for i = 1, #args do argv[#argv + 1] = args[i] end
  local env = { GIT_TERMINAL_PROMPT = "0", GIT_MERGE_AUTOEDIT = "no" }
  for k, v in pairs(self.o.env or {}) do env[k] = v end
  local r, ename, emsg = X.run(argv, {
    cwd = self.cwd, env = env, timeout_ms = self.timeout_ms, label = self.key,
    deadline_ms = E.deadline(), max_output = MAX_OUTPUT,
    secret_output = extra and extra.secret_output,
  })
  local safe = masked(argv)
  local shown = table.concat(safe, " ", 4)
  if not r and (ename == "ETIMEDOUT" or ename == "ECANCELED") then
    error(errors.new(ename, string.format("git %s was stopped: %s", shown, emsg),
      { argv = safe }), 0)
  end
  if not r then
    local where = self.cwd and (" in " .. self.cwd) or ""
    error(errors.new(ename, string.format("cannot run git%s: %s", where, emsg),
      { argv = safe }), 0)
  end
  if r.timed_out then
    error(errors.new("ETIMEDOUT", string.format("git %s timed out after %s", shown,
      tostring(self.o.timeout)), { argv = safe, stderr = mask_urls(r.stderr) }), 0)
  end
  if r.truncated then
    error(errors.new("ETOOLARGE", string.format("git %s wrote more than %d MiB",
      shown, math.floor(MAX_OUTPUT / 1048576)), { argv = safe }), 0)
  end
  local fine = r.code == 0 and not r.signal
  for _, c in ipairs(accept or {}) do
    if r.code == c then fine = true end
  end
  r.argv = argv
  if not fine then self:fail(argv, r) end
  return r
end

-- fail(argv, r [, code, fields, headline]): raises the error of a failed
-- git command: the command, how it ended, what git said (its stderr, or
-- its stdout when stderr is empty); headline (if any) comes first.
function Call:fail(argv, r, code, fields, headline)
  local why = r.signal and ("was killed by signal " .. r.signal)
    or ("exited with code " .. r.code)
  local text = tail(r.stderr, 2000)
  if text == "" then text = tail(r.stdout, 2000) end
  argv = masked(argv)
  local e = { stderr = mask_urls(r.stderr), stdout = mask_urls(tail(r.stdout, 16384)),
              exit_code = r.code, argv = argv }
  for k, v in pairs(fields or {}) do e[k] = v end
  error(errors.new(code or "EGIT", mask_urls(string.format("%sgit %s %s%s",
    headline and (headline .. "; ") or "", table.concat(argv, " ", 4), why,
    text ~= "" and (": " .. text) or "")), e), 0)
end

-- A short list of paths for a message.
local function some(files)
  local names = {}
  for i, f in ipairs(files) do
    if i > 10 then names[#names + 1] = "... (" .. #files .. " in all)"; break end
    names[#names + 1] = type(f) == "table" and f.path or f
  end
  return table.concat(names, ", ")
end

-- out(args, accept) -> stdout without its final newline.
function Call:out(args, accept)
  return (self:run(args, accept).stdout:gsub("\n$", ""))
end

function Call:head()
  local r = self:run({ "rev-parse", "-q", "--verify", "HEAD" }, { 1 })
  if r.code ~= 0 then return nil end
  return trim(r.stdout)
end

-- resolve(ref, peel, short) -> an object name; raises EGIT naming ref when
-- git does not know it (rev-parse alone only says "Needed a single revision").
function Call:resolve(ref, peel, short)
  local args = { "rev-parse", "-q", "--verify" }
  if short then args[#args + 1] = "--short" end
  args[#args + 1] = "--end-of-options"
  args[#args + 1] = peel and (ref .. "^{commit}") or ref
  local r = self:run(args, { 1 })
  if r.code ~= 0 then
    self:fail(r.argv, r, nil, nil, string.format("'%s' is not a known %s", ref,
      peel and "commit (a branch, tag or commit id)" or "revision"))
  end
  return trim(r.stdout)
end

function Call:commit_of(ref) return self:resolve(ref, true) end

function Call:current_branch()
  local r = self:run({ "symbolic-ref", "-q", "--short", "HEAD" }, { 1 })
  if r.code ~= 0 then return nil end
  return trim(r.stdout)
end

-- parser(text), with a parser's own failure raised as EGIT (output git
-- is not expected to write).
local function parsed(parser, text)
  local ok, r = pcall(parser, text)
  if not ok then
    if type(r) == "table" then error(r, 0) end
    error(errors.new("EGIT", tostring(r)), 0)
  end
  return r
end

function Call:status(untracked)
  local args = { "--no-optional-locks", "status", "--porcelain=v2", "--branch" }
  args[#args + 1] = untracked == false and "--untracked-files=no" or "--untracked-files=all"
  return parsed(M._parse_status, self:out(args))
end

function Call:unmerged()
  local files = {}
  for _, l in ipairs(lines(self:out({ "diff", "--name-only", "--diff-filter=U" }))) do
    files[#files + 1] = unquote(l)
  end
  return files
end

-- After a failed checkout/merge/pull: ECONFLICT when git left conflicts,
-- EDIRTY when it refused because of local changes (the files git listed
-- that the tree holds as changed), else EGIT.
function Call:explain(argv, r, what)
  local conflicts = self:unmerged()
  if #conflicts > 0 then
    local aborted
    if what.abort then
      local a = self:run({ what.abort, "--abort" }, { 128 })
      aborted = a.code == 0
    end
    self:fail(argv, r, "ECONFLICT", { files = conflicts, aborted = aborted },
      "conflicts in " .. some(conflicts) .. (aborted and " (aborted: the tree is as before)"
        or " (left for resolution)"))
  end
  -- The files git refused to overwrite come one per line, after a tab,
  -- whatever the language of the message around them.
  local listed = {}
  for path in (r.stderr .. "\n"):gmatch("\n\t([^\n]+)") do listed[unquote(trim(path))] = true end
  if next(listed) then
    local st = self:status()
    local dirty = {}
    for _, f in ipairs(st.files) do
      if listed[f.path] then dirty[#dirty + 1] = f end
    end
    if #dirty > 0 then
      self:fail(argv, r, "EDIRTY", { files = dirty }, "local changes in the way: " .. some(dirty))
    end
  end
  self:fail(argv, r)
end

-- ---------------------------------------------------------------------
-- Journal entries.

-- entry(fname, display, identity, o, how, body) -> body(call, prev)'s
-- results, as one journal entry of kind "git".
--   display: short text after "git <fname>" in the entry's name
--   identity: the call's arguments (hashed; compared on replay)
--   how.effect: the call changes a repository or a remote
local function entry(fname, display, identity, o, how, body)
  local cwd = workdir(o)
  -- The name and the stored arguments are shown and kept: no URL
  -- credentials in them (the identity is only hashed).
  local name = mask_urls("git " .. fname .. (display and display ~= "" and (" " .. display) or ""))
  local ident = json.encode({ fname, identity, o.cwd or json.null, o.env or json.null })
  local stored = mask_urls(json.encode({ call = fname, args = identity, cwd = cwd }))
  local timeout_ms
  if o.timeout ~= nil then timeout_ms = T.duration_ms(o.timeout) / T.time_scale() end
  return E.entry("git", name, ident, {
    effect = how.effect or nil,
    idempotent = o.idempotent,
    durable = how.effect and true or false,
    stored = function() return stored end,
  }, function(prev, _, key)
    local call = setmetatable({ o = o, cwd = cwd, key = key, timeout_ms = timeout_ms,
                                recovering = prev ~= nil and prev.state == "started" },
                              CallMT)
    return body(call)
  end)
end

-- Splits (...) into positional arguments and a trailing options table. A
-- trailing table is options unless it is a non-empty list (refs, paths).
local function split(...)
  local n = select("#", ...)
  local args = { ... }
  while n > 0 and args[n] == nil do n = n - 1 end
  local last = args[n]
  if type(last) == "table" and (#last == 0 or next(last, #last) ~= nil) then
    args[n] = nil
    return args, n - 1, last
  end
  return args, n, nil
end

-- ---------------------------------------------------------------------
-- Reading.

-- status(opts) -> { clean, branch, detached, commit, upstream, ahead,
-- behind, files }. opts.untracked = false leaves untracked files out.
function M.status(opts)
  local o = check_opts("status", opts, { untracked = "boolean" })
  return entry("status", nil, { untracked = o.untracked }, o, {}, function(c)
    return c:status(o.untracked)
  end)
end

-- require_clean(opts) -> status; raises EDIRTY (with files) if the tree
-- has changes.
function M.require_clean(opts)
  local o = check_opts("require_clean", opts, { untracked = "boolean" })
  return entry("require_clean", nil, { untracked = o.untracked }, o, {}, function(c)
    local st = c:status(o.untracked)
    if not st.clean then
      local names = {}
      for i, f in ipairs(st.files) do
        if i > 10 then names[#names + 1] = "... (" .. #st.files .. " in all)"; break end
        names[#names + 1] = f.path .. " (" .. f.status .. ")"
      end
      error(errors.new("EDIRTY", string.format("the working tree%s has changes: %s",
        c.cwd and (" of " .. c.cwd) or "", table.concat(names, ", ")),
        { files = st.files }), 0)
    end
    return st
  end)
end

-- head(opts) -> the commit HEAD points to (nil on an unborn branch).
function M.head(opts)
  local o = check_opts("head", opts, { short = "boolean" })
  return entry("head", nil, { short = o.short }, o, {}, function(c)
    if o.short then
      local r = c:run({ "rev-parse", "-q", "--verify", "--short", "HEAD" }, { 1 })
      if r.code ~= 0 then return nil end
      return trim(r.stdout)
    end
    return c:head()
  end)
end

-- rev_parse(ref, opts) -> the object name of ref. Tags resolve to their
-- commit unless opts.peel = false.
function M.rev_parse(ref, opts)
  check_name("rev_parse", "ref", ref)
  local o = check_opts("rev_parse", opts, { short = "boolean", peel = "boolean" })
  return entry("rev_parse", ref, { ref, short = o.short, peel = o.peel }, o, {}, function(c)
    return c:resolve(ref, o.peel ~= false, o.short)
  end)
end

-- current_branch(opts) -> the checked-out branch, or nil (detached HEAD).
function M.current_branch(opts)
  local o = check_opts("current_branch", opts)
  return entry("current_branch", nil, {}, o, {}, function(c) return c:current_branch() end)
end

-- root(opts) -> the top directory of the working tree.
function M.root(opts)
  local o = check_opts("root", opts)
  return entry("root", nil, {}, o, {}, function(c)
    return c:out({ "rev-parse", "--show-toplevel" })
  end)
end

-- remote_url(name, opts) -> the URL of a remote (default "origin"), with
-- any credentials in it masked.
function M.remote_url(...)
  local a, n, opts = split(...)
  if n > 1 then argerr("remote_url", "opts", "a table expected") end
  local remote = check_name("remote_url", "name", a[1], true) or "origin"
  local o = check_opts("remote_url", opts)
  return entry("remote_url", remote, { remote }, o, {}, function(c)
    local r = c:run({ "remote", "get-url", "--end-of-options", remote }, nil,
      { secret_output = true })
    return mask_urls(trim(r.stdout))
  end)
end

-- tags(opts) -> list of tag names. opts: pattern (glob), sort (a git
-- --sort key: "version:refname", "-creatordate", ...), merged (a ref),
-- contains (a ref).
function M.tags(opts)
  local o = check_opts("tags", opts, { pattern = "string", sort = "string",
                                       merged = "string", contains = "string" })
  if o.merged then check_name("tags", "merged", o.merged) end
  if o.contains then check_name("tags", "contains", o.contains) end
  return entry("tags", o.pattern, { pattern = o.pattern, sort = o.sort, merged = o.merged,
                                    contains = o.contains }, o, {}, function(c)
    local args = { "tag", "--list" }
    if o.sort then args[#args + 1] = "--sort=" .. o.sort end
    if o.merged then args[#args + 1] = "--merged=" .. o.merged end
    if o.contains then args[#args + 1] = "--contains=" .. o.contains end
    if o.pattern then args[#args + 1] = "--"; args[#args + 1] = o.pattern end
    return lines(c:out(args))
  end)
end

-- tag_exists(name, opts) -> boolean.
function M.tag_exists(name, opts)
  check_name("tag_exists", "name", name)
  local o = check_opts("tag_exists", opts)
  return entry("tag_exists", name, { name }, o, {}, function(c)
    local r = c:run({ "rev-parse", "-q", "--verify", "refs/tags/" .. name }, { 1 })
    return r.code == 0
  end)
end

-- log([range], opts) -> list of { commit, author, email, date, parents,
-- subject, body }, newest first. range: a ref ("main") or a range
-- ("v1.0..HEAD"); default HEAD. opts: max, paths, first_parent, no_merges.
function M.log(...)
  local a, n, opts = split(...)
  if n > 1 then argerr("log", "opts", "a table expected") end
  local range = check_name("log", "range", a[1], true)
  local o = check_opts("log", opts, { max = "integer", paths = "list",
                                      first_parent = "boolean", no_merges = "boolean" })
  return entry("log", range, { range, max = o.max, paths = o.paths,
                               first_parent = o.first_parent, no_merges = o.no_merges },
    o, {}, function(c)
      local args = { "log", LOG_FORMAT }
      if o.max then args[#args + 1] = "--max-count=" .. o.max end
      if o.first_parent then args[#args + 1] = "--first-parent" end
      if o.no_merges then args[#args + 1] = "--no-merges" end
      args[#args + 1] = "--end-of-options"
      args[#args + 1] = range or "HEAD"
      if o.paths then
        args[#args + 1] = "--"
        for _, p in ipairs(o.paths) do args[#args + 1] = p end
      end
      return parsed(M._parse_log, c:out(args))
    end)
end

-- describe([ref], opts) -> git describe's answer. opts: tags, always,
-- abbrev, match, dirty (no ref then).
function M.describe(...)
  local a, n, opts = split(...)
  if n > 1 then argerr("describe", "opts", "a table expected") end
  local ref = check_name("describe", "ref", a[1], true)
  local o = check_opts("describe", opts, { tags = "boolean", always = "boolean",
                                           abbrev = "integer", match = "string",
                                           dirty = "boolean" })
  if o.dirty and ref then argerr("describe", "dirty", "cannot be used with a ref") end
  return entry("describe", ref, { ref, tags = o.tags, always = o.always, abbrev = o.abbrev,
                                  match = o.match, dirty = o.dirty }, o, {}, function(c)
    local args = { "describe" }
    if o.tags then args[#args + 1] = "--tags" end
    if o.always then args[#args + 1] = "--always" end
    if o.abbrev then args[#args + 1] = "--abbrev=" .. o.abbrev end
    if o.match then args[#args + 1] = "--match=" .. o.match end
    if o.dirty then args[#args + 1] = "--dirty" end
    if ref then args[#args + 1] = ref end
    return c:out(args)
  end)
end

-- is_ancestor(a, [b], opts) -> true if commit a is an ancestor of b
-- (default HEAD); a commit is its own ancestor.
function M.is_ancestor(...)
  local a, n, opts = split(...)
  if n > 2 then argerr("is_ancestor", "opts", "a table expected") end
  local x = check_name("is_ancestor", "ancestor", a[1])
  local y = check_name("is_ancestor", "descendant", a[2], true) or "HEAD"
  local o = check_opts("is_ancestor", opts)
  return entry("is_ancestor", x .. " " .. y, { x, y }, o, {}, function(c)
    local r = c:run({ "merge-base", "--is-ancestor", x, y }, { 1 })
    return r.code == 0
  end)
end

-- changed_files(from, [to], opts) -> list of { path, status, old_path }:
-- what differs between two commits (to defaults to HEAD). opts: paths,
-- merge_base (compare to with the merge base of from and to: from...to).
function M.changed_files(...)
  local a, n, opts = split(...)
  if n > 2 then argerr("changed_files", "opts", "a table expected") end
  local from = check_name("changed_files", "from", a[1])
  local to = check_name("changed_files", "to", a[2], true) or "HEAD"
  local o = check_opts("changed_files", opts, { paths = "list", merge_base = "boolean" })
  return entry("changed_files", from .. (o.merge_base and "..." or " ") .. to,
    { from, to, paths = o.paths, merge_base = o.merge_base }, o, {}, function(c)
      local args = { "diff", "--name-status", "-M", "--no-color", "--no-ext-diff" }
      if o.merge_base then args[#args + 1] = from .. "..." .. to
      else args[#args + 1] = from; args[#args + 1] = to end
      args[#args + 1] = "--"
      for _, p in ipairs(o.paths or {}) do args[#args + 1] = p end
      return parsed(M._parse_name_status, c:out(args))
    end)
end

-- ---------------------------------------------------------------------
-- Changing things (effects).

-- add(paths, opts): stages paths (a string or a list); opts.all stages
-- every change (then paths may be omitted).
function M.add(...)
  local a, n, opts = split(...)
  if n > 1 then argerr("add", "opts", "a table expected") end
  local o = check_opts("add", opts, { all = "boolean" })
  local paths = a[1]
  if paths == nil and not o.all then argerr("add", "paths", "a path or a list of paths expected") end
  if paths ~= nil then paths = check_list("add", "paths", paths) end
  return entry("add", paths and table.concat(paths, " ") or "--all", { paths, all = o.all },
    o, { effect = true }, function(c)
      local args = { "add" }
      if o.all then args[#args + 1] = "--all" end
      args[#args + 1] = "--"
      for _, p in ipairs(paths or {}) do args[#args + 1] = p end
      c:run(args)
    end)
end

local function commit_info(c)
  local sha = c:head()
  return { commit = sha, branch = c:current_branch(),
           subject = c:out({ "log", "-1", "--format=%s", sha }) }
end

-- commit(message, opts) -> { commit, branch, subject }. opts: all
-- (-a), paths (commit only these), allow_empty, sign (-S), author
-- ("Name <email>"), no_verify (skip hooks).
function M.commit(message, opts)
  if type(message) ~= "string" or trim(message) == "" then
    argerr("commit", "message", "a non-empty string expected")
  end
  local o = check_opts("commit", opts, { all = "boolean", paths = "list",
                                         allow_empty = "boolean", sign = "boolean",
                                         author = "string", no_verify = "boolean" })
  if o.all and o.paths then argerr("commit", "paths", "cannot be used with all = true") end
  return entry("commit", message:match("^[^\n]*"):sub(1, 60),
    { message, all = o.all, paths = o.paths, allow_empty = o.allow_empty, sign = o.sign,
      author = o.author, no_verify = o.no_verify }, o, { effect = true }, function(c)
      local args = { "commit", "--quiet", "--message=" .. message }
      if o.all then args[#args + 1] = "--all" end
      if o.allow_empty then args[#args + 1] = "--allow-empty" end
      if o.sign then args[#args + 1] = "--gpg-sign" end
      if o.no_verify then args[#args + 1] = "--no-verify" end
      if o.author then args[#args + 1] = "--author=" .. o.author end
      if o.paths then
        args[#args + 1] = "--"
        for _, p in ipairs(o.paths) do args[#args + 1] = p end
      end
      local r = c:run(args, { 1 })
      if r.code ~= 0 then
        -- In flight at a crash: if HEAD already is this commit, it was made.
        if c.recovering and c:head() and trim(c:out({ "log", "-1", "--format=%B" })) == trim(message) then
          local info = commit_info(c)
          info.recovered = true
          return info
        end
        c:fail(r.argv, r)
      end
      return commit_info(c)
    end)
end

-- branch(name, opts) -> { name, commit }: creates a branch at opts.start
-- (default HEAD) without switching to it. opts.force moves an existing one.
function M.branch(name, opts)
  check_name("branch", "name", name)
  local o = check_opts("branch", opts, { start = "string", force = "boolean" })
  if o.start then check_name("branch", "start", o.start) end
  return entry("branch", name, { name, start = o.start, force = o.force }, o,
    { effect = true }, function(c)
      local target = c:commit_of(o.start or "HEAD")
      local existing = c:run({ "rev-parse", "-q", "--verify", "refs/heads/" .. name }, { 1 })
      if c.recovering and existing.code == 0 and trim(existing.stdout) == target then
        return { name = name, commit = target, recovered = true }
      end
      local args = { "branch" }
      if o.force then args[#args + 1] = "--force" end
      args[#args + 1] = "--end-of-options"
      args[#args + 1] = name
      args[#args + 1] = target
      c:run(args)
      return { name = name, commit = target }
    end)
end

-- checkout(ref, opts) -> { branch, commit, detached }. opts: create (a new
-- branch named ref, at opts.start), start, force (discard local changes).
-- Local changes in the way raise EDIRTY with the files.
function M.checkout(ref, opts)
  check_name("checkout", "ref", ref)
  local o = check_opts("checkout", opts, { create = "boolean", start = "string",
                                           force = "boolean" })
  if o.start then
    check_name("checkout", "start", o.start)
    if not o.create then argerr("checkout", "start", "needs create = true") end
  end
  return entry("checkout", ref, { ref, create = o.create, start = o.start, force = o.force },
    o, { effect = true }, function(c)
      local function info()
        local b = c:current_branch()
        return { branch = b, commit = c:head(), detached = b == nil }
      end
      if c.recovering and o.create and c:current_branch() == ref then
        local i = info()
        i.recovered = true
        return i
      end
      local args = { "checkout", "--quiet" }
      if o.force then args[#args + 1] = "--force" end
      if o.create then args[#args + 1] = "-b" end
      args[#args + 1] = ref
      if o.start then args[#args + 1] = o.start end
      args[#args + 1] = "--"
      local r = c:run(args, { 1 })
      if r.code ~= 0 then
        c:explain(r.argv, r, {})
      end
      return info()
    end)
end

-- tag(name, opts) -> { name, commit, object, annotated, signed }: creates
-- a tag at opts.ref (default HEAD); annotated when it has a message or is
-- signed. opts: message, ref, sign, force.
function M.tag(name, opts)
  check_name("tag", "name", name)
  local o = check_opts("tag", opts, { message = "string", ref = "string", sign = "boolean",
                                      annotate = "boolean", force = "boolean" })
  if o.ref then check_name("tag", "ref", o.ref) end
  local annotated = o.message ~= nil or o.sign == true or o.annotate == true
  return entry("tag", name, { name, message = o.message, ref = o.ref, sign = o.sign,
                              annotate = o.annotate, force = o.force }, o,
    { effect = true }, function(c)
      local target = c:commit_of(o.ref or "HEAD")
      local function info(recovered)
        local both = lines(c:out({ "rev-parse", "refs/tags/" .. name,
                                   "refs/tags/" .. name .. "^{commit}" }))
        return { name = name, object = both[1], commit = both[2], annotated = annotated,
                 signed = o.sign == true, recovered = recovered }
      end
      if c.recovering then
        -- In flight at a crash: a tag of that name on the same commit is
        -- the one this call made.
        local r = c:run({ "rev-parse", "-q", "--verify", "refs/tags/" .. name .. "^{commit}" }, { 1 })
        if r.code == 0 and trim(r.stdout) == target then return info(true) end
      end
      local args = { "tag" }
      if o.sign then args[#args + 1] = "--sign"
      elseif annotated then args[#args + 1] = "--annotate" end
      if annotated then args[#args + 1] = "--message=" .. (o.message or name) end
      if o.force then args[#args + 1] = "--force" end
      args[#args + 1] = "--end-of-options"
      args[#args + 1] = name
      args[#args + 1] = target
      c:run(args)
      return info()
    end)
end

local PUSH_STATUS = { [" "] = "fast_forward", ["+"] = "forced", ["-"] = "deleted",
                      ["*"] = "new", ["!"] = "rejected", ["="] = "up_to_date" }

-- push([remote [, refs]], opts) -> { remote, updates = { {ref, from,
-- status, summary} } }. opts: tags, follow_tags, set_upstream, force,
-- force_with_lease, atomic, delete. A ref the remote refuses raises
-- EREJECTED (with `rejected`).
function M.push(...)
  local a, n, opts = split(...)
  if n > 2 then argerr("push", "opts", "a table expected") end
  local remote = check_name("push", "remote", a[1], true)
  local refs = a[2] ~= nil and check_list("push", "refs", a[2]) or nil
  for i, r in ipairs(refs or {}) do
    if r:sub(1, 1) == "-" then argerr("push", "refs", "refs[" .. i .. "] starts with '-'") end
  end
  local o = check_opts("push", opts, { tags = "boolean", follow_tags = "boolean",
                                       set_upstream = "boolean", force = "boolean",
                                       force_with_lease = "boolean", atomic = "boolean",
                                       delete = "boolean" })
  if refs and not remote then argerr("push", "remote", "needed with refs") end
  if o.delete and not refs then argerr("push", "delete", "needs refs") end
  return entry("push", (table.concat({ remote or "", table.concat(refs or {}, " ") }, " "):gsub("%s+$", "")),
    { remote, refs, tags = o.tags, follow_tags = o.follow_tags, set_upstream = o.set_upstream,
      force = o.force, force_with_lease = o.force_with_lease, atomic = o.atomic,
      delete = o.delete }, o, { effect = true }, function(c)
      local args = { "push", "--porcelain" }
      for _, k in ipairs({ "tags", "follow_tags", "set_upstream", "force",
                           "force_with_lease", "atomic", "delete" }) do
        if o[k] then args[#args + 1] = "--" .. k:gsub("_", "-") end
      end
      if remote then args[#args + 1] = remote end
      for _, r in ipairs(refs or {}) do args[#args + 1] = r end
      local r = c:run(args, { 1, 128 })
      local updates, rejected = {}, {}
      for flag, from, to, summary in r.stdout:gmatch("([ +%-*!=])\t([^\t\n:]*):([^\t\n]*)\t([^\n]*)") do
        local u = { ref = to, from = from ~= "" and from or nil, status = PUSH_STATUS[flag],
                    summary = summary }
        updates[#updates + 1] = u
        if flag == "!" then rejected[#rejected + 1] = u end
      end
      if r.code ~= 0 then
        if #rejected > 0 then
          local what = {}
          for i, u in ipairs(rejected) do what[i] = u.ref .. " " .. u.summary end
          r.stderr = r.stderr .. (r.stderr:find("\n$") and "" or "\n") .. "rejected: "
            .. table.concat(what, "; ")
          c:fail(r.argv, r, "EREJECTED", { rejected = rejected })
        end
        c:fail(r.argv, r)
      end
      return { remote = remote, updates = updates }
    end)
end

-- fetch([remote [, refs]], opts) -> { remote }. opts: all, tags, prune.
function M.fetch(...)
  local a, n, opts = split(...)
  if n > 2 then argerr("fetch", "opts", "a table expected") end
  local remote = check_name("fetch", "remote", a[1], true)
  local refs = a[2] ~= nil and check_list("fetch", "refs", a[2]) or nil
  for i, r in ipairs(refs or {}) do
    if r:sub(1, 1) == "-" then argerr("fetch", "refs", "refs[" .. i .. "] starts with '-'") end
  end
  if refs and not remote then argerr("fetch", "remote", "needed with refs") end
  local o = check_opts("fetch", opts, { all = "boolean", tags = "boolean", prune = "boolean" })
  if o.all and remote then argerr("fetch", "all", "cannot be used with a remote") end
  return entry("fetch", o.all and "--all" or remote, { remote, refs, all = o.all, tags = o.tags,
                                                       prune = o.prune }, o,
    { effect = true }, function(c)
      local args = { "fetch", "--quiet" }
      if o.all then args[#args + 1] = "--all" end
      if o.tags then args[#args + 1] = "--tags" end
      if o.prune then args[#args + 1] = "--prune" end
      if remote then args[#args + 1] = remote end
      for _, r in ipairs(refs or {}) do args[#args + 1] = r end
      c:run(args)
      return { remote = remote }
    end)
end

-- merge(ref, opts) -> { commit, before, merged, fast_forward, up_to_date }.
-- opts: message, ff ("only" | false = always a merge commit), abort
-- (git merge --abort after a conflict). Conflicts raise ECONFLICT with
-- `files`; local changes in the way raise EDIRTY.
function M.merge(ref, opts)
  check_name("merge", "ref", ref)
  local o = check_opts("merge", opts, { message = "string", ff = "string|boolean",
                                        abort = "boolean" })
  if o.ff ~= nil and o.ff ~= "only" and o.ff ~= false and o.ff ~= true then
    argerr("merge", "ff", "\"only\", true or false expected")
  end
  return entry("merge", ref, { ref, message = o.message, ff = o.ff, abort = o.abort }, o,
    { effect = true }, function(c)
      local before = c:head()
      local merged = c:commit_of(ref)
      local args = { "merge", "--no-edit" }
      if o.ff == "only" then args[#args + 1] = "--ff-only"
      elseif o.ff == false then args[#args + 1] = "--no-ff" end
      if o.message then args[#args + 1] = "--message=" .. o.message end
      args[#args + 1] = "--end-of-options"
      args[#args + 1] = ref
      local r = c:run(args, { 1, 2, 128 })
      if r.code ~= 0 then
        c:explain(r.argv, r, { abort = o.abort and "merge" })
      end
      local after = c:head()
      return { commit = after, before = before, merged = merged,
               up_to_date = after == before,
               fast_forward = after ~= before and after == merged }
    end)
end

-- pull([remote [, branch]], opts) -> { before, commit, updated }. opts:
-- rebase, ff_only (default true unless rebase), abort. Fast-forward only
-- by default: a deploy should not create merge commits by surprise.
function M.pull(...)
  local a, n, opts = split(...)
  if n > 2 then argerr("pull", "opts", "a table expected") end
  local remote = check_name("pull", "remote", a[1], true)
  local branch = check_name("pull", "branch", a[2], true)
  if branch and not remote then argerr("pull", "remote", "needed with a branch") end
  local o = check_opts("pull", opts, { rebase = "boolean", ff_only = "boolean", abort = "boolean" })
  if o.rebase and o.ff_only then argerr("pull", "ff_only", "cannot be used with rebase = true") end
  return entry("pull", (table.concat({ remote or "", branch or "" }, " "):gsub("%s+$", "")),
    { remote, branch, rebase = o.rebase, ff_only = o.ff_only, abort = o.abort }, o,
    { effect = true }, function(c)
      local before = c:head()
      local args = { "pull", "--quiet", "--no-edit" }
      if o.rebase then args[#args + 1] = "--rebase"
      elseif o.ff_only == false then args[#args + 1] = "--no-rebase"
      else args[#args + 1] = "--ff-only" end
      if remote then args[#args + 1] = remote end
      if branch then args[#args + 1] = branch end
      local r = c:run(args, { 1, 128 })
      if r.code ~= 0 then
        c:explain(r.argv, r, { abort = o.abort and (o.rebase and "rebase" or "merge") })
      end
      local after = c:head()
      return { before = before, commit = after, updated = after ~= before }
    end)
end

return M
