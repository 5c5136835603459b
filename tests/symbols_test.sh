#!/usr/bin/env bash
# Every symbol the shared library exports must carry the convt3d_ prefix: everything else
# is built with hidden visibility. Usage: symbols_test.sh path/to/libconvt3d.so
set -euo pipefail
exported=$(nm -D --defined-only "$1" | awk '{print $3}')
count=$(printf '%s\n' "$exported" | grep -c '^convt3d_' || true)
strays=$(printf '%s\n' "$exported" | grep -v '^convt3d_' | grep -v '^$' || true)
if [ -n "$strays" ]; then
  echo "exported without the convt3d_ prefix:"
  echo "$strays"
  echo "symbols_test: 0 passed, 1 failed"
  exit 1
fi
echo "$count exported symbols, all convt3d_*"
echo "symbols_test: 1 passed, 0 failed"
