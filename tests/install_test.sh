#!/usr/bin/env bash
# Installs a build into a scratch prefix, then builds and runs examples/forward.c against
# the installed files twice: through the CMake package (find_package(convt3d)) and through
# pkg-config. Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(find "$tmp/prefix" -name libconvt3d.so -printf '%h\n' | head -n 1)
test -f "$tmp/prefix/include/convt3d.h"
test -x "$tmp/prefix/bin/convt3d"
"$tmp/prefix/bin/convt3d" info | grep -q '^convt3d '

cmake -S "$src/examples" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_BUILD_RPATH="$libdir" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
"$tmp/cmake-build/forward" | tee "$tmp/out.txt"
grep -q 'output (1, 2, 6, 6, 6), y\[0\] = 1.5, y\[last\] = 0.5' "$tmp/out.txt"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046  # pkg-config's flags are meant to be split
cc -std=c11 "$src/examples/forward.c" $(pkg-config --cflags --libs convt3d) \
  -Wl,-rpath,"$libdir" -o "$tmp/forward-pc"
"$tmp/forward-pc" | grep -q 'groups = 3: invalid argument'
echo "install_test: 2 passed, 0 failed"
