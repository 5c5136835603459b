#!/usr/bin/env bash
# Fuzzing, as CI runs it (docs/reliability.md, "Fuzzing"): builds the libFuzzer harnesses
# of tests/fuzz into build-fuzz/ (clang, ASan + UBSan), replays every reproducer under
# tests/fuzz/regressions/<harness>/ once, then fuzzes each harness for SECONDS (default
# 60) on a copy of its seed corpus (tests/fuzz/corpus/<harness>/, never modified).
# Prints the executions per harness; exits 1 on any finding (crash, leak, undefined
# behaviour, timeout, out-of-memory, failed check), whose inputs it copies to
# build-fuzz/findings/<harness>/ with the command that replays them.
#
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS]" >&2
  exit 2
fi
harnesses=(fuzz_npy fuzz_cli fuzz_api)

# Scratch space on a tmpfs where there is one: the harnesses write files for every input
# (and the .npy writer fsyncs them).
scratch=/dev/shm
[ -d "$scratch" ] && [ -w "$scratch" ] || scratch=${TMPDIR:-/tmp}
work=$(mktemp -d "$scratch/convt3d-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/tmp"

if ! { CC=clang cmake -S tests/fuzz -B build-fuzz &&
       cmake --build build-fuzz -j"$(nproc)"; } >"$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  echo "fuzz: the harnesses do not build" >&2
  exit 1
fi
export TMPDIR=$work/tmp
# An allocation ASan cannot serve returns NULL, as malloc would; the library must then
# fail cleanly. Leaks are reported (libFuzzer checks each input).
export ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Keeps the inputs of a finding, and says how to replay them.
keep_findings() { # harness, folder of artifacts (or inputs) to keep
  local dest=build-fuzz/findings/$1
  mkdir -p "$dest"
  cp "$2"/* "$dest"/ 2>/dev/null || true
  echo "  inputs kept in $dest/; replay with: build-fuzz/$1 $dest/<file>" >&2
}

status=0
summary=()
for h in "${harnesses[@]}"; do
  # 1. The regressions: every input that once crashed, run once.
  regressions=()
  if [ -d "tests/fuzz/regressions/$h" ]; then
    mapfile -t regressions < <(find "tests/fuzz/regressions/$h" -type f | sort)
  fi
  if [ ${#regressions[@]} -gt 0 ]; then
    if ! "build-fuzz/$h" "${regressions[@]}" >"$work/$h.regressions.log" 2>&1; then
      echo "fuzz: $h: a regression input fails again:" >&2
      grep -v '^INFO:' "$work/$h.regressions.log" | tail -n 40 >&2
      status=1
    fi
  fi

  # 2. Fuzzing, on a copy of the seed corpus (libFuzzer adds what it finds to it).
  mkdir "$work/$h.corpus" "$work/$h.artifacts"
  cp "tests/fuzz/corpus/$h"/* "$work/$h.corpus/"
  rc=0
  "build-fuzz/$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/$h.artifacts/" "$work/$h.corpus" \
    >"$work/$h.log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$h.log" | tail -n 1)
  corpus=$(find "$work/$h.corpus" -type f | wc -l)
  summary+=("$(printf '%-9s %10s executions in %ss, corpus %s -> %s inputs, %s regression input(s)' \
    "$h" "${execs:-?}" "$seconds" "$(find "tests/fuzz/corpus/$h" -type f | wc -l)" \
    "$corpus" "${#regressions[@]}")")
  if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$work/$h.artifacts")" ]; then
    echo "fuzz: $h: finding (exit status $rc):" >&2
    grep -v -e '^INFO:' -e '^#[0-9]' "$work/$h.log" | tail -n 60 >&2
    keep_findings "$h" "$work/$h.artifacts"
    status=1
  fi
done

echo "fuzz: executions per harness (-max_total_time=$seconds -timeout=10 -rss_limit_mb=2048):"
printf '  %s\n' "${summary[@]}"
if [ "$status" -ne 0 ]; then
  echo "fuzz: FAILED (see above)" >&2
else
  echo "fuzz: no findings"
fi
exit "$status"
