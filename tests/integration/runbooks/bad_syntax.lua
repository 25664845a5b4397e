-- A syntax error on line 6.
return runbook {
  name = "bad-syntax",
  run = function(p)
    step("fine", function() return 1 end)
    local x = = 1
  end,
}
