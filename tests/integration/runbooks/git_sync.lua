-- Catches up with a remote: fetch shows the branch behind, pull moves it
-- forward; then log, is_ancestor and changed_files describe what came in.
local function result(name, v) print("RESULT " .. name .. " " .. json.encode(v)) end

return runbook {
  name = "git-sync", version = "1.0.0",
  params = { repo = { type = "string", required = true } },
  run = function(p)
    local o = { cwd = p.repo }
    local before = git.status(o)
    result("before", before)
    local old = git.head(o)
    git.fetch("origin", o)
    local fetched = git.status(o)
    result("fetched", fetched)
    local pulled = git.pull(o)
    result("pulled", pulled)
    local after = git.status(o)
    result("after", after)
    result("log", git.log(old .. "..HEAD", o))
    result("ancestor", { git.is_ancestor(old, o), git.is_ancestor("HEAD", old, o),
                         git.is_ancestor(old, "HEAD", o) })
    result("changed", git.changed_files(old, o))
    result("changed_docs", git.changed_files(old, "HEAD", { cwd = p.repo, paths = { "docs" } }))
    result("describe", git.describe({ cwd = p.repo, tags = true }))
    result("tags", git.tags({ cwd = p.repo, pattern = "v*", sort = "-version:refname" }))
    return pulled
  end,
}
