#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the test prerequisites where missing
# (Debian packages), then builds and tests: a Release build; a Debug build under
# AddressSanitizer + UndefinedBehaviorSanitizer with allocation-failure injection; the C
# unit tests (concurrent plans included) under ThreadSanitizer, built with clang and
# without OpenMP (an uninstrumented OpenMP runtime would only produce false reports);
# valgrind memcheck on a subset; static analysis (scripts/lint.sh); the fuzzers for a
# bounded time (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake gcc clang make pkg-config python3-numpy python3-torch valgrind cppcheck clang-tidy
          libclang-rt-14-dev)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test prerequisites: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCONVT3D_SANITIZE=address,undefined \
  -DCONVT3D_FAULT_INJECTION=ON
cmake --build build-asan -j"$jobs"
ctest --test-dir build-asan --output-on-failure

CC=clang cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCONVT3D_SANITIZE=thread \
  -DCONVT3D_OPENMP=OFF -DCONVT3D_BUILD_TOOLS=OFF -DCONVT3D_BUILD_EXAMPLES=OFF
cmake --build build-tsan -j"$jobs" --target test_api test_npy test_backward
ctest --test-dir build-tsan --output-on-failure -R "test_api|test_npy|test_backward"

# valgrind memcheck on a subset: the .npy reader/writer and every backward/conv3d path.
# Without OpenMP, so every report is the library's; valgrind hides AVX-512 from the CPUID
# it emulates, so the AVX2 and portable kernels run here.
cmake -S . -B build-valgrind -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONVT3D_OPENMP=OFF \
  -DCONVT3D_BUILD_TOOLS=OFF -DCONVT3D_BUILD_EXAMPLES=OFF
cmake --build build-valgrind -j"$jobs" --target test_npy test_backward
for t in test_npy test_backward; do
  valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    "build-valgrind/tests/$t"
done

# Static analysis: cppcheck and clang-tidy, zero findings.
scripts/lint.sh build

scripts/fuzz.sh 60  # fuzzing: each libFuzzer harness for a minute (docs/reliability.md)
