-- Misuse raises at once naming the argument; a failing git command raises
-- EGIT with git's stderr, exit code and argv; a rejected push EREJECTED.
-- With fail = true the run ends with an uncaught git error.
local function result(name, v) print("RESULT " .. name .. " " .. json.encode(v)) end

local function raises(fn, pattern)
  local ok, e = pcall(fn)
  assert(not ok, "expected an error matching " .. pattern)
  assert(type(e) == "string" and e:find(pattern), "error '" .. tostring(e) .. "' does not match '" .. pattern .. "'")
  assert(e:find("git_errors.lua:%d+"), "no runbook line in: " .. e)
end

return runbook {
  name = "git-errors", version = "1.0.0",
  params = {
    repo = { type = "string", required = true },
    fail = { type = "boolean", default = false },
    secret = { type = "string", default = "" },
  },
  run = function(p)
    local o = { cwd = p.repo }
    if p.fail then git.checkout("no-such-branch", o) end
    raises(function() git.tag(nil, o) end, "git.tag: bad argument 'name' %(a non%-empty string expected%)")
    raises(function() git.tag("--force", o) end, "git.tag: bad argument 'name' %('%-%-force' starts with '%-'%)")
    raises(function() git.status({ cwd = p.repo, untraked = false }) end, "git.status: bad argument 'untraked' %(unknown option; known:")
    raises(function() git.commit("", o) end, "git.commit: bad argument 'message'")
    raises(function() git.merge("feature", { cwd = p.repo, ff = "sometimes" }) end, "git.merge: bad argument 'ff'")
    raises(function() git.log("main", { cwd = p.repo, max = -1 }) end, "git.log: bad argument 'max'")
    raises(function() git.push({ "main" }, o) end, "git.push: bad argument 'remote'")
    raises(function() git.status("main") end, "git.status: bad argument 'opts' %(a table expected%)")
    raises(function() git.fetch("origin", { cwd = p.repo, env = { GIT_TRACE = true } }) end,
      "git.fetch: bad argument 'env'")
    raises(function() git.push("origin", "main", { cwd = p.repo, timeout = "soon" }) end,
      "git.push: bad argument 'timeout'")

    local ok, e = pcall(git.checkout, "no-such-branch", o)
    assert(not ok and e.code == "EGIT", tostring(e))
    result("checkout", { message = e.message, stderr = e.stderr, exit_code = e.exit_code, argv = e.argv })

    ok, e = pcall(git.status, { cwd = p.repo .. "/.." })
    assert(not ok and e.code == "EGIT", tostring(e))
    result("not_a_repo", { message = e.message })

    -- Credentials in a URL never reach the journal, the name or the error.
    ok, e = pcall(git.push, "https://deploy:" .. p.secret .. "@127.0.0.1:1/x.git", "main", o)
    assert(not ok and e.code == "EGIT", tostring(e))
    result("push_url", { message = e.message, argv = e.argv })
    result("remote_url", git.remote_url("creds", o))

    ok, e = pcall(git.push, "origin", "main", o)
    assert(not ok, "the push of a diverged main was accepted")
    result("push", { code = e.code, message = e.message, rejected = e.rejected, stderr = e.stderr })
  end,
}
