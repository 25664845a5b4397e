-- A tag in one step, then a step that blocks (the test SIGKILLs summit
-- there); a resumed run must replay the tag, not run git tag again.
return runbook {
  name = "git-crash", version = "1.0.0",
  params = {
    repo = { type = "string", required = true },
    dir  = { type = "string", required = true },   -- markers: pids/, blocked, go
    tag  = { type = "string", required = true },
  },
  run = function(p)
    local t = step("tag", function()
      return git.tag(p.tag, { message = "Release " .. p.tag, cwd = p.repo })
    end)
    step("wait", function()
      exec({ "sh", "-c", 'echo $$ > "$1/pids/wait"; touch "$1/blocked"; '
        .. 'while ! test -e "$1/go"; do sleep 0.05; done', "sh", p.dir })
    end)
    print("RESULT tag " .. json.encode(t))
    return t
  end,
}
