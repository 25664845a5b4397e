-- Cuts a release the way a deploy runbook would, in the repository of the
-- summit.lua it runs with (the default cwd of git calls): requires a clean
-- tree on main in sync with origin, branches release/<version>, commits
-- release notes, tags (annotated; signed if asked), pushes branch and tag.
-- Prints "RESULT name json" lines for the test to check.
local function result(name, v) print("RESULT " .. name .. " " .. json.encode(v)) end

return runbook {
  name = "git-release", version = "1.0.0",
  params = {
    version = { type = "string", required = true, pattern = "^%d+%.%d+%.%d+$" },
    sign    = { type = "boolean", default = false },
  },
  run = function(p)
    local st = git.require_clean()
    assert(st.clean and st.branch == "main", "expected a clean main, got " .. json.encode(st))
    assert(st.upstream == "origin/main" and st.ahead == 0 and st.behind == 0,
      "expected main in sync with origin/main: " .. json.encode(st))
    result("status", st)

    local root = git.root()
    result("root", root)
    local branch = "release/" .. p.version
    local co = git.checkout(branch, { create = true })
    assert(co.branch == branch and not co.detached, json.encode(co))
    assert(git.current_branch() == branch)

    exec({ "sh", "-c", 'printf "Release %s\\n" "$1" > NOTES.md', "sh", p.version }, { cwd = root })
    local dirty = git.status()
    assert(not dirty.clean and #dirty.files == 1 and dirty.files[1].path == "NOTES.md"
      and dirty.files[1].status == "untracked", json.encode(dirty))
    git.add("NOTES.md")
    local c = git.commit("Release notes for " .. p.version)
    assert(c.branch == branch and c.subject == "Release notes for " .. p.version, json.encode(c))
    assert(git.head() == c.commit)
    result("commit", c)

    local tag = "v" .. p.version
    assert(not git.tag_exists(tag))
    local t = git.tag(tag, { message = "Release " .. tag, sign = p.sign })
    assert(t.annotated and t.commit == c.commit and t.object ~= c.commit, json.encode(t))
    assert(git.tag_exists(tag))
    assert(git.rev_parse(tag) == c.commit, "rev_parse peels a tag to its commit")
    assert(git.rev_parse(tag, { peel = false }) == t.object)
    result("tag", t)

    local pushed = git.push("origin", { branch, tag }, { set_upstream = true })
    result("push", pushed)
    assert(#pushed.updates == 2, json.encode(pushed))
    for _, u in ipairs(pushed.updates) do assert(u.status == "new", json.encode(u)) end

    assert(git.describe() == tag, "describe: " .. git.describe())
    local after = git.status()
    assert(after.clean and after.upstream == "origin/" .. branch and after.ahead == 0, json.encode(after))
    local log = git.log({ max = 2 })
    assert(#log == 2 and log[1].commit == c.commit and log[1].parents[1] == log[2].commit, json.encode(log))
    result("log", log)
    return { commit = c.commit, tag = t.object }
  end,
}
