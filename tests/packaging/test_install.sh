#!/usr/bin/env bash
# Installs a built Ophtha into a temporary prefix and builds out-of-tree consumers against it, as
# a vendor would: (a) C99 with `cc $(pkg-config --cflags --libs ophtha)`, (b) a CMake project with
# find_package(ophtha 0.1 REQUIRED) + ophtha::ophtha (tests/packaging/consumer). Neither sees
# LibTorch. Each step that fails names itself; the prefix is removed at the end.
#
#   test_install.sh BUILD_DIR SOURCE_DIR [MODEL_BUNDLE_DIR]
#
# With a bundle, the installed examples/c/report.c and examples/cpp/report.cpp also write a report.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR [MODEL_BUNDLE_DIR]" >&2
  exit 2
fi
build_dir=$(cd "$1" && pwd)
source_dir=$(cd "$2" && pwd)
bundle=${3:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/ophtha-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
step=""
trap 'echo "test_install.sh: FAILED at step: $step" >&2' ERR

fail() {
  echo "test_install.sh: FAILED at step: $step: $*" >&2
  exit 1
}

step="cmake --install $build_dir --prefix $prefix"
cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log"

step="check the installed files"
libdir="$prefix/lib"
[[ -f "$prefix/include/ophtha/ophtha.h" && -f "$prefix/include/ophtha/ophtha.hpp" ]] || fail "headers missing"
[[ -x "$prefix/bin/ophtha" ]] || fail "bin/ophtha missing"
[[ -f "$prefix/share/ophtha/models/demo/ophtha-bundle.json" ]] || fail "share/ophtha/models/demo (the demo model) missing"
[[ -f "$libdir/pkgconfig/ophtha.pc" ]] || fail "lib/pkgconfig/ophtha.pc missing"
[[ -f "$libdir/cmake/ophtha/ophthaConfig.cmake" && -f "$libdir/cmake/ophtha/ophthaConfigVersion.cmake" ]] ||
  fail "lib/cmake/ophtha/ophthaConfig{,Version}.cmake missing"
soname=$(readelf -d "$libdir/libophtha.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ "$soname" == libophtha.so.0 && -f "$libdir/$soname" ]] || fail "SONAME is '$soname', expected libophtha.so.0 (installed)"
static=$(find "$prefix" -name '*.a')
[[ -z "$static" ]] || fail "static component libraries were installed: $static"
if grep -il torch "$libdir/pkgconfig/ophtha.pc" "$libdir"/cmake/ophtha/ophthaTargets*.cmake ||
  grep -l '^[^#]*\(find_dependency\|find_package\)' "$libdir/cmake/ophtha/ophthaConfig.cmake"; then
  fail "the package files above pull in LibTorch or another dependency; they must stay private to libophtha.so"
fi

step="pkg-config: cc -std=c99 version_check.c \$(pkg-config --cflags --libs ophtha)"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs ophtha)
[[ "$flags" != *orch* ]] || fail "pkg-config flags name Torch: $flags"
[[ "$(pkg-config --modversion ophtha)" == "$(sed -n 's/.*OPHTHA_VERSION_STRING "\(.*\)"/\1/p' "$prefix/include/ophtha/version.hpp")" ]] ||
  fail "pkg-config --modversion is $(pkg-config --modversion ophtha), not the header's version"
cc -std=c99 -Wall -Wextra -Werror -pedantic "$source_dir/tests/packaging/consumer/version_check.c" \
  $(pkg-config --cflags --libs ophtha) -o "$work/version_check_pc"
step="pkg-config: cc -std=c99 examples/c/report.c \$(pkg-config --cflags --libs ophtha) -lm"
cc -std=c99 -Wall -Wextra -pedantic "$source_dir/examples/c/report.c" $(pkg-config --cflags --libs ophtha) -lm \
  -o "$work/report_pc"
step="run the pkg-config build (LD_LIBRARY_PATH=$libdir)"
LD_LIBRARY_PATH="$libdir" "$work/version_check_pc" >"$work/version_pc.out" || fail "$(cat "$work/version_pc.out")"
grep -q "libophtha $(pkg-config --modversion ophtha) (ABI " "$work/version_pc.out" ||
  fail "version_check printed '$(cat "$work/version_pc.out")'"
cat "$work/version_pc.out"

step="cmake: find_package(ophtha 0.1 REQUIRED) in tests/packaging/consumer"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$source_dir/tests/packaging/consumer" -B "$work/consumer-build" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" -DOPHTHA_EXAMPLES_DIR="$source_dir/examples" \
  >"$work/consumer-configure.log" || { cat "$work/consumer-configure.log" >&2; fail "configure"; }
step="cmake --build the consumer project"
cmake --build "$work/consumer-build" >"$work/consumer-build.log" || { cat "$work/consumer-build.log" >&2; fail "build"; }
grep -qi torch "$work/consumer-build/CMakeCache.txt" && fail "the consumer's CMake cache names Torch"
step="run the CMake build (RPATH from the imported target)"
"$work/consumer-build/version_check" || fail "version_check exited $?"

step="find_package(ophtha 1.0) must be refused (SameMajorVersion)"
mkdir -p "$work/major"
printf 'cmake_minimum_required(VERSION 3.18)\nproject(major LANGUAGES C)\nfind_package(ophtha 1.0 REQUIRED)\n' \
  >"$work/major/CMakeLists.txt"
if cmake -S "$work/major" -B "$work/major/build" -DCMAKE_PREFIX_PATH="$prefix" >"$work/major.log" 2>&1; then
  fail "find_package(ophtha 1.0) found version 0.1"
fi

step="installed bin/ophtha report, no --model: the installed demo model, from another folder"
(cd "$work" && OPHTHA_MODEL= LD_LIBRARY_PATH="$libdir" "$prefix/bin/ophtha" report --lang en --threads 1 \
  --image "$source_dir/examples/images/syn-000033_OD_oct.png:oct:OD" >"$work/report_cli.out" 2>"$work/report_cli.err") ||
  fail "$(cat "$work/report_cli.err")"
head -1 "$work/report_cli.out" | grep -q synthetic || fail "bin/ophtha report's first line is no disclaimer: $(head -1 "$work/report_cli.out")"
grep -q "$prefix/share/ophtha/models/demo" "$work/report_cli.err" ||
  fail "bin/ophtha report did not say it used $prefix/share/ophtha/models/demo: $(cat "$work/report_cli.err")"

if [[ -n "$bundle" ]]; then
  step="installed bin/ophtha, pkg-config report.c, CMake report.c and report.cpp on $bundle"
  LD_LIBRARY_PATH="$libdir" "$work/report_pc" "$bundle" 8 >"$work/report_pc.out" || fail "report_pc exited $?"
  "$work/consumer-build/report_c" "$bundle" 8 >"$work/report_c.out" || fail "report_c exited $?"
  "$work/consumer-build/report_cpp" "$bundle" "$source_dir/examples/images" 8 >"$work/report_cpp.out" ||
    fail "report_cpp exited $?"
  for out in report_pc report_c report_cpp; do
    grep -q '"schema":"ophtha.structured_report/1"' "$work/$out.out" || fail "$out printed no structured report"
  done
  cmp -s "$work/report_pc.out" "$work/report_c.out" || fail "report.c built by pkg-config and by CMake disagree"
fi
trap - ERR
echo "test_install.sh: installed to a temporary prefix; pkg-config and find_package consumers built and ran"
