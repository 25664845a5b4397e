#!/usr/bin/env bash
# Issue 15 / the store's unit tests (tests/unit/test_store.c,
# test_notify_streak.c and test_queue.c) run again on a real PostgreSQL: the same calls,
# the same assertions, so both backends keep one semantics. Each test gets
# a schema of its own (tests/unit/fixtures.h); the few that test what only
# SQLite has (a file, PRAGMAs, old schemas) skip themselves there. The
# audit chain's tamper tests on PostgreSQL are in test_pg_store.sh.
# Usage: bash pg_unit.sh SUMMIT UNIT-TEST-BINARY...
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
shift
[[ $# -gt 0 ]] || die "no unit test binaries given"

pg_start >/dev/null
for bin in "$@"; do
  say "$(basename "$bin") on PostgreSQL"
  SUMMIT_TEST_PG_URL=$PG_URL "$bin" --jobs 1 >"$T/unit.out" 2>&1 || {
    cat "$T/unit.out" >&2
    die "$(basename "$bin") failed on PostgreSQL"
  }
  tail -1 "$T/unit.out"
  grep -q 'Failing: 0' "$T/unit.out" || die "$(basename "$bin"): failures"
  ok "$(basename "$bin"): $(grep -o 'Tested: [0-9]*' "$T/unit.out")"
done
# Nothing of the tests' schemas is left behind.
eq "$(pg_sql "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'unit_%'")" 0 \
  "every test dropped its schema"
