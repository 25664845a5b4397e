#!/usr/bin/env bash
# Runs one Lua test runbook with a fresh state directory; it passes when
# the run succeeds (the runbook asserts what it tests).
set -u
bin=$1 file=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$(dirname "$file")"
SUMMIT_STATE_DIR=$dir/state "$bin" run "$(basename "$file")"
