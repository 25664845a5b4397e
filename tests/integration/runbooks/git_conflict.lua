-- Merges a branch that conflicts: ECONFLICT with the conflicting files and
-- git's output; with abort = true the merge is undone. Uncaught when
-- raise = true, so the run fails with it.
local function result(name, v) print("RESULT " .. name .. " " .. json.encode(v)) end

return runbook {
  name = "git-conflict", version = "1.0.0",
  params = {
    repo  = { type = "string", required = true },
    abort = { type = "boolean", default = false },
    raise = { type = "boolean", default = false },
  },
  run = function(p)
    local o = { cwd = p.repo, abort = p.abort }
    if p.raise then return git.merge("feature", o) end
    local ok, e = pcall(git.merge, "feature", o)
    assert(not ok, "the merge did not conflict")
    result("merge", { code = e.code, message = e.message, files = e.files, aborted = e.aborted,
                      exit_code = e.exit_code, output = (e.stdout or "") .. (e.stderr or "") })
    result("status", git.status({ cwd = p.repo }))
  end,
}
