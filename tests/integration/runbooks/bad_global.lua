-- A typo'd global, reached only at run time (line 7).
return runbook {
  name = "bad-global",
  run = function(p)
    step("fine", function() return 1 end)
    if p then
      stpe("typo", function() end)
    end
  end,
}
