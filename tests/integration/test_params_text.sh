#!/usr/bin/env bash
# Params that cannot pass through the journal and JSON intact are refused
# at the CLI with exit 2 naming the param (issue 12, docs/cli.md): a NUL
# (\u0000) in a --params-file string used to cut the string silently, and
# bytes that are not UTF-8 (from -p or --params-file) were written raw into
# the --json output. Nothing is started for a refused run; good params,
# escaped backslashes and non-ASCII text still work.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
RB=$RUNBOOKS/params.lua

# refused NAME WHAT ARGS...: exit 2, the param named, no run started.
refused() {
  local name=$1 what=$2
  shift 2
  local before
  before=$(run_count)
  sm "$name" run "$RB" --json "$@"
  expect_rc 2 "$name" "$what"
  has "$T/$name.err" "param label" "$what: the error names the param"
  eq "$(run_count)" "$before" "$what: no run was started"
}

say "a NUL in a --params-file string"
printf '{"n": 1, "label": "ab\\u0000cd"}' >"$T/nul.json"
refused nul "a \\u0000 in label" --params-file "$T/nul.json"
has "$T/nul.err" "NUL" "the error says NUL"

say "bytes that are not UTF-8"
printf '{"n": 1, "label": "ab\xffcd"}' >"$T/bad.json"
refused badfile "0xff in label (params file)" --params-file "$T/bad.json"
has "$T/badfile.err" "UTF-8" "the error says UTF-8"
refused badp "a lone 0xc3 in -p label" -p n=1 -p "label=$(printf 'x\xc3(')"
refused overlong "an overlong '/' in -p label" -p n=1 -p "label=$(printf '\xc0\xaf')"
refused surrogate "an encoded surrogate in -p label" -p n=1 -p "label=$(printf '\xed\xa0\x80')"

say "what is fine stays fine"
printf '{"n": 1, "label": "back\\\\u0000slash é ✓ \\u00e9"}' >"$T/good.json"
sm good run "$RB" --json --params-file "$T/good.json"
expect_rc 0 good "an escaped backslash before u0000 and non-ASCII text"
py 'import json,sys
for l in open(sys.argv[1], encoding="utf-8", errors="strict"):
    e = json.loads(l)
    if e.get("event") == "step.completed": pass
' "$T/good.out" || die "the --json output is not UTF-8 JSON"
ok "the --json output is strict UTF-8 JSON"
run=$(newest_run)
"$SUMMIT" status "$run" --json | py 'import json,sys
p = json.load(sys.stdin)["params"]
p = json.loads(p) if isinstance(p, str) else p
sys.exit(0 if p["label"] == "back\\u0000slash é ✓ é" else "label: %r" % p["label"])' ||
  die "the stored label is not the one given"
ok "the label is stored intact"
