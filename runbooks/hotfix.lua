-- Hotfix deployment (DEPLOYMENT_RUNBOOK.md "Hotfix Deployment"): a branch
-- from the production tag, fast-track tests and security scan, staging
-- first, an emergency approval by a Platform Lead with the justification
-- recorded, straight to production, immediate verification, backport to
-- main. docs/runbooks/hotfix.md.
local release = require("summit.release")

return runbook {
  name = "hotfix",
  version = "1.0.0",
  description = "Urgent production fix outside the release cycle",
  environment = release.environments("staging", "production"),
  params = {
    version = { type = "string", required = true, pattern = release.VERSION_PATTERN,
                description = "the hotfix release, e.g. v4.0.6" },
    justification = { type = "string", required = true, pattern = "%S",
                      description = "why this cannot wait (recorded in the approval and the audit)" },
    from = { type = "string", description = "the production tag the branch starts from (git)" },
    branch = { type = "string", pattern = "^hotfix/", description = "default hotfix/VERSION" },
    git = { type = "boolean", description = "run the git steps (branch, backport)" },
    app = { type = "string", description = "the Deployment and metrics app label (default web)" },
    image = { type = "string", description = "image template, {{app}} and {{version}} replaced" },
    strategy = { type = "string", enum = release.STRATEGIES, description = "default rolling" },
    skip = { type = "string", description = "phases to leave out: prepare, staging, verify, finalize" },
    verify_count = { type = "integer", description = "verification rounds (default 3)" },
    verify_interval = { type = "string", description = "between verification rounds (default 5m)" },
    monitor_wait = { type = "string", description = "wait between production steps (default 15m)" },
  },
  run = function(p)
    local s = release.settings(p)
    if p.strategy == nil then s.strategy = "rolling" end
    if p.verify_count == nil then s.verify_count = 3 end
    if p.verify_interval == nil then s.verify_interval = "5m" end
    local branch = p.branch or ("hotfix/" .. s.version)
    local g = { cwd = type(s.git) == "string" and s.git or nil }

    if not release.skipped(s, "prepare") then
      step("fast-track " .. branch, function()
        if s.git then
          step("hotfix branch " .. branch, function()
            local ok = pcall(git.rev_parse, "refs/heads/" .. branch, g)
            if not ok then
              if not s.from then fail("no branch " .. branch .. " and no -p from=TAG to start it from") end
              return git.checkout(branch, { cwd = g.cwd, create = true, start = s.from })
            end
            local r = git.checkout(branch, g)
            if s.from and not git.is_ancestor(s.from, branch, g) then
              fail(branch .. " does not start from " .. s.from)
            end
            return r
          end)
        end
        release.command(release.has_command("test_fast") and "test_fast" or "test", { s.version }, { cwd = g.cwd })
        release.command("security_scan", { s.version }, { cwd = g.cwd })
      end)
    end
    if not release.skipped(s, "staging") then release.staging(s, { merge = false }) end

    local t = release.target("production", s)
    local a = approval.require{
      gate = "emergency", roles = s.emergency_roles,
      bind = { version = s.version, image = s.image_ref, justification = p.justification },
      reason = string.format("hotfix %s (%s) straight to %s: %s", s.version, s.image_ref, t.name,
        p.justification),
    }
    local approvers = {}
    for _, x in ipairs(a.approvers) do approvers[#approvers + 1] = x.actor end
    audit.record("release.hotfix_approved", { version = s.version, image = s.image_ref, branch = branch,
                                              justification = p.justification, approvers = approvers })

    step("production " .. s.version .. " (" .. s.strategy .. ")", function() return release.production(s) end)

    local verdict
    if not release.skipped(s, "verify") then
      local v = release.verify(s)
      verdict = v.verdict
      if not v.ok then fail("immediate verification failed: " .. table.concat(v.failed, "; ")) end
    end

    if not release.skipped(s, "finalize") then
      release.finalize(s, { hotfix = true, branch = branch, justification = p.justification,
                            approvers = approvers })
    end
    if s.git and not release.skipped(s, "finalize") then
      step("backport " .. branch .. " to " .. s.main, function()
        git.checkout(s.main, g)
        local r = git.merge(branch, { cwd = g.cwd, ff = false, message = "Backport " .. branch })
        if s.remote then git.push(s.remote, s.main, g) end
        return r
      end)
    end
    return { version = s.version, image = s.image_ref, branch = branch, approvers = approvers,
             verify = verdict }
  end,
}
