-- Misuse of notify(), chosen by p.case: it raises at once naming the
-- argument.
return runbook {
  name = "notify-bad", version = "1.0.0",
  params = { case = { type = "string", required = true } },
  run = function(p)
    if p.case == "channel" then notify("x", { channel = "nowhere" })
    elseif p.case == "message" then notify(42)
    elseif p.case == "level" then notify("x", { level = "loud" })
    elseif p.case == "option" then notify("x", { chanel = "generic" })
    end
  end,
}
