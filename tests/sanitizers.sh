#!/bin/bash
# The C ABI under the sanitizers: builds the C-API tests with OPHTHA_SANITIZE=address in
# build-asan and OPHTHA_SANITIZE=thread in build-tsan, then runs
#   address: test_c_api (strict C99 on libophtha.so), test_capi_wrapper, test_capi_threads,
#            test_branches (drafts decoded side by side: the branch cache's rows and spans),
#            test_matvec (the matvec and gemm kernels: masked tile loads and stores at the
#            edges of partial panels) — AddressSanitizer and LeakSanitizer must report nothing;
#   thread:  test_capi_threads (8 sessions on 8 threads over one model, the log setter under
#            concurrent logging, thread-local error messages) — ThreadSanitizer must report nothing.
# test_capi_threads runs twice: as the CPU allows, and with OPHTHA_NO_AVX512=1 (BLAS prefill).
# LibTorch, OpenBLAS and libgomp are Debian's uninstrumented builds. No suppressions are needed
# (none of these tests got a report from inside them either); any report fails the run
# (exitcode 66 / halt_on_error). Should LibTorch ever need one, a suppressions file may name frames
# inside libtorch/libgomp only, each with its reason.
#
#   tests/sanitizers.sh [address|thread|all]     (default: all)
# Environment: OPHTHA_SANITIZER_JOBS (build jobs, default 1), OPHTHA_SANITIZER_BUILD_ROOT
# (where build-asan / build-tsan go, default the source folder).
# Build time on the 2-core development machine, measured from clean (ccache cold): see
# docs/c-api.md, "Sanitizers".
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/.." && pwd)
build_root=${OPHTHA_SANITIZER_BUILD_ROOT:-$source_dir}
jobs=${OPHTHA_SANITIZER_JOBS:-1}
which=${1:-all}

build() {  # kind dir
  local started=$SECONDS
  cmake -S "$source_dir" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOPHTHA_SANITIZE="$1" \
    -DOPHTHA_BUILD_BENCH=OFF -DOPHTHA_BUILD_EXAMPLES=OFF -DPYTHON_EXECUTABLE=/usr/bin/python3 > /dev/null
  local targets=(test_c_api test_capi_threads test_capi_wrapper)
  [ "$1" = address ] && targets+=(test_branches test_matvec)
  cmake --build "$2" --target "${targets[@]}" -j "$jobs"
  echo "== $1 build: $((SECONDS - started)) s"
}

run_tests() {  # dir regex
  (cd "$1" && ctest --output-on-failure -R "$2")
}

case "$which" in
  address|all)
    build address "$build_root/build-asan"
    ASAN_OPTIONS="detect_leaks=1:exitcode=66" \
      run_tests "$build_root/build-asan" '^(c_api_model|test_c_api|test_capi_wrapper|test_capi_threads(_without_avx512)?|test_branches(_without_avx512)?|test_matvec(_without_avx512)?)$'
    ;;&
  thread|all)
    build thread "$build_root/build-tsan"
    TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1" \
      run_tests "$build_root/build-tsan" '^test_capi_threads(_without_avx512)?$'
    ;;
  address) ;;
  *) echo "usage: $0 [address|thread|all]" >&2; exit 2 ;;
esac
echo "== sanitizers: clean"
