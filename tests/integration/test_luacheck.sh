#!/usr/bin/env bash
# Issue 7 / luacheck (Debian's lua-check) over runbooks/, stdlib/ and
# examples/ (with its team modules, examples/lib/) with the project's
# .luacheckrc (summit's runbook globals).
#
#  1. The shipped Lua is clean: no warnings, no errors.
#  2. The configuration still catches what it should: a runbook with a
#     typo in a global (stpe) and one that assigns a global is reported,
#     and the runbook globals (step, exec, approval, ...) are not.
# luacheck must be installed (make deps installs Debian's lua-check).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

command -v luacheck >/dev/null ||
  die "luacheck is not installed (make deps installs Debian's lua-check)"
ROOT=$(cd "$HERE/../.." && pwd)

say "1. runbooks/, stdlib/, examples/ are clean"
rc=0
(cd "$ROOT" && luacheck --no-color --codes runbooks/ stdlib/ examples/) >"$T/lc.out" 2>&1 || rc=$?
if [[ $rc -ne 0 ]]; then
  grep -E "^ +[^ ].*:[0-9]+:[0-9]+:|^Total" "$T/lc.out" >&2 || cat "$T/lc.out" >&2
  die "luacheck found problems (exit $rc)"
fi
has "$T/lc.out" "0 warnings / 0 errors" "luacheck: 0 warnings / 0 errors"
has "$T/lc.out" "examples/lib/team/steps.lua" "the example team module is checked (examples/lib/)"

say "2. the configuration catches typos and global writes in runbooks"
mkdir -p "$T/lc/runbooks"
cp "$ROOT/.luacheckrc" "$T/lc/"
cat >"$T/lc/runbooks/typo.lua" <<'RB'
return runbook {
  name = "typo", version = "1.0.0",
  run = function(p)
    stpe("build", function() exec({ "make" }) end)
    approval.require{ gate = "go" }
    leaked = p
  end,
}
RB
rc=0
(cd "$T/lc" && luacheck --no-color --codes runbooks/) >"$T/typo.out" 2>&1 || rc=$?
eq "$rc" 1 "luacheck reports warnings (exit 1)"
has "$T/typo.out" "runbooks/typo.lua:4:5: (W113) accessing undefined variable 'stpe'" "a misspelt global"
has "$T/typo.out" "runbooks/typo.lua:6:5: (W111) setting non-standard global variable 'leaked'" "a global write"
hasnt "$T/typo.out" "'exec'" "runbook globals are known"
hasnt "$T/typo.out" "'approval'" "approval too"
