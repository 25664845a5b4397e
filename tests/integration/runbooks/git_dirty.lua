-- A dirty tree: status lists every change (staged, modified, deleted,
-- untracked, odd names); require_clean and a checkout that would lose
-- local changes raise EDIRTY with the files.
local function result(name, v) print("RESULT " .. name .. " " .. json.encode(v)) end

return runbook {
  name = "git-dirty", version = "1.0.0",
  params = { repo = { type = "string", required = true } },
  run = function(p)
    local o = { cwd = p.repo }
    result("status", git.status(o))
    result("tracked_only", git.status({ cwd = p.repo, untracked = false }))
    local ok, e = pcall(git.require_clean, o)
    assert(not ok, "require_clean passed on a dirty tree")
    result("require_clean", { code = e.code, message = e.message, files = e.files })
    ok, e = pcall(git.checkout, "other", o)
    assert(not ok, "checkout over local changes passed")
    result("checkout", { code = e.code, message = e.message, files = e.files, stderr = e.stderr })
  end,
}
