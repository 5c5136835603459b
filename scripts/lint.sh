#!/usr/bin/env bash
# Static analysis with zero findings allowed: cppcheck (warning, performance, portability)
# and clang-tidy (.clang-tidy) over the library and the tools, using the compile commands
# of a configured build directory (default: build). Exit 1 on any finding.
# Usage: scripts/lint.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake -S . -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON > /dev/null
sources=(src/*.c src/cpu/*.c src/cpu/*/*.c src/reference/*.c tools/*.c)

echo "lint: cppcheck on ${#sources[@]} files"
cppcheck --enable=warning,performance,portability --inline-suppr --std=c11 --quiet \
  --error-exitcode=1 -I include -I src -DCONVT3D_HAVE_ONEDNN "${sources[@]}"

echo "lint: clang-tidy on ${#sources[@]} files"
# clang-tidy exits non-zero on a finding (WarningsAsErrors: '*'); its per-file summaries
# of suppressed warnings go to stderr and are dropped.
out=$(clang-tidy -p "$build" --quiet "${sources[@]}" 2>/dev/null) || {
  printf '%s\n' "$out"
  echo "lint: clang-tidy found problems"
  exit 1
}
echo "lint: no findings"
