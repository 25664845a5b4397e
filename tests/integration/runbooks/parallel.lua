-- Four named parallel branches whose completion order is set by a param
-- (p.delays = "a=0.3,b=0.1,..." seconds per branch). Every branch runs a
-- step with a nested exec (appending its name to count.<branch> in p.dir,
-- then sleeping its delay, then waiting while a file hold.<branch> exists)
-- and a journaled random(); then a final step records the branch results.
-- Before the parallel block, one plain step.
return runbook {
  name = "parallel-keys", version = "1.0.0",
  params = {
    dir    = { type = "string", required = true },
    delays = { type = "string", required = true },
  },
  run = function(p)
    local delay = {}
    for name, d in p.delays:gmatch("(%w+)=([%d%.]+)") do delay[name] = d end

    step("before", function()
      exec({ "sh", "-c", "echo before >> count.before" }, { cwd = p.dir })
    end)

    local function branch(name)
      return function()
        local r = step("work " .. name, function()
          exec({ "sh", "-c", "echo " .. name .. " >> count." .. name
                 .. "; echo " .. name .. " >> order.txt; sleep " .. delay[name]
                 .. "; while [ -e hold." .. name .. " ]; do sleep 0.05; done" },
               { cwd = p.dir })
          return name .. "-done"
        end)
        local n = random(1, 1000)
        step("check " .. name, function() return n end)
        return r
      end
    end

    local results = parallel {
      a = branch("a"), b = branch("b"), c = branch("c"), d = branch("d"),
    }

    step("after", function()
      exec({ "sh", "-c", "echo after >> count.after; printf '%s' '"
             .. json.encode(results) .. "' > results.json" }, { cwd = p.dir })
    end)
    return results
  end,
}
