-- A step that returns a function: not JSON-serialisable.
return runbook {
  name = "bad-result",
  run = function(p)
    step("returns a closure", function()
      return function() end
    end)
  end,
}
