#!/usr/bin/env bash
# Builds the libFuzzer targets in bench/fuzz/ with clang
# (-fsanitize=fuzzer,address,undefined) and runs each one for a bounded
# time. Needs the Debian packages clang and libclang-rt-14-dev (libFuzzer's
# runtime; only a Recommends of clang, so --no-install-recommends skips it).
#
#   bench/fuzz/run.sh [target...]     default: every bench/fuzz/fuzz_*.c
#
# Environment: FUZZ_TIME seconds per target (default 60), FUZZ_OUT build
# and work directory (default build-fuzz/), FUZZ_ARGS extra libFuzzer flags.
# The seeds in bench/fuzz/corpus/<target>/ are read, never written; what the
# fuzzer finds goes to $FUZZ_OUT/corpus/<target>/ and crashes to
# $FUZZ_OUT/artifacts/<target>/. Exits non-zero if any target crashed.
# A crash, once fixed, belongs in tests/unit/fuzz_regress/<target>/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${FUZZ_OUT:-$root/build-fuzz}
secs=${FUZZ_TIME:-60}
cc=${FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null; then
  echo "run.sh: $cc not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in "$here"/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi

# shellcheck disable=SC2054  # the commas are in -fsanitize=...
cflags=(-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
        -I"$root/core")
read -r -a pkg_cflags <<<"$(pkg-config --cflags libcjson yaml-0.1 libcrypto libuv)"
read -r -a pkg_libs <<<"$(pkg-config --libs libcjson yaml-0.1 libcrypto libuv)"

# Sources under test for each target.
sources() {
  case $1 in
    fuzz_kubeconfig) echo "$root"/core/io/kube/*.c "$root/core/io/rfc3339.c" ;;
    fuzz_lines) echo "$root/core/io/lines.c" ;;
    fuzz_ws) echo "$root/core/io/ws.c" ;;
    *) echo "run.sh: unknown target $1" >&2; exit 2 ;;
  esac
}

mkdir -p "$out"
failed=()
for t in "${targets[@]}"; do
  read -r -a srcs <<<"$(sources "$t")"
  echo "== building $t"
  "$cc" "${cflags[@]}" "${pkg_cflags[@]}" "$here/$t.c" "${srcs[@]}" \
    "${pkg_libs[@]}" -o "$out/$t"
  mkdir -p "$out/corpus/$t" "$out/artifacts/$t" "$here/corpus/$t"
  dict=()
  name=${t#fuzz_}
  [ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
  echo "== running $t for ${secs}s"
  # shellcheck disable=SC2086
  if ! "$out/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" \
      "${dict[@]}" ${FUZZ_ARGS:-} "$out/corpus/$t" "$here/corpus/$t" \
      2>"$out/$t.log"; then
    failed+=("$t")
    echo "!! $t crashed; see $out/$t.log and $out/artifacts/$t/" >&2
  fi
  grep -E '^stat::(number_of_executed_units|new_units_added)|DONE' \
    "$out/$t.log" || true
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "run.sh: crashes in: ${failed[*]}" >&2
  exit 1
fi
echo "run.sh: no crashes"
