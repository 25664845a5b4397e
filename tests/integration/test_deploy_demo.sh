#!/usr/bin/env bash
# `make demo` (issue 7, part 9): examples/demo.sh with the binary under
# test and examples/summit.lua (the in-process simulated cluster): the
# crash-and-resume part, then runbooks/deploy.lua from the checklist to
# finalize with carol, alice and bob approving; it must end with the run
# succeeded, the audit trail intact and the provenance written.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
DEMO=$HERE/../../examples/demo.sh

RC=0
timeout -k 5 120 bash "$DEMO" "$SUMMIT" >"$T/demo.out" 2>"$T/demo.err" || RC=$?
expect_rc 0 demo "make demo (examples/demo.sh)"
has "$T/demo.out" "succeeded in" "part 1: the killed run was resumed to success"
has "$T/demo.out" "approved gate 'checklist-pre-deployment'" "carol acknowledged the checklist"
has "$T/demo.out" "approved gate 'canary' of run" "alice approved the canary"
has "$T/demo.out" "as bob: the gate is released (2 of 2)" "alice and bob released production"
has "$T/demo.out" "status   succeeded" "the deploy run succeeded"
has "$T/demo.out" "audit trail intact" "summit audit verify passed"
has "$T/demo.out" "release.released" "the release record is shown"
has "$T/demo.out" "approvals: checklist-pre-deployment by carol, canary by alice, production by alice, production by bob" \
  "the provenance lists the approvals"
run=$(sed -n 's/^run \([0-9a-z]*\)  deploy .*/\1/p' "$T/demo.out" | head -1)
[[ -n $run ]] || die "no deploy run in the demo's output"
py 'import json,sys
d = json.load(sys.stdin)
sys.exit(0 if d["status"] == "succeeded" and d["params"]["version"] == "v4.0.5" else 1)' \
  < <(cd "$HERE/../../examples" && "$SUMMIT" status "$run" --json) || die "status of $run"
ok "summit status: deploy v4.0.5 succeeded"
