#!/bin/bash
# libophtha.so exports only the C ABI (ophtha_* functions) and the C++ API in namespace ophtha:
# nothing from the C++ standard library, LibTorch, fmt, nlohmann or stb, whose copies would clash
# with the host program's. Also checks that every function ophtha.h declares is exported.
#   check_exports.sh path/to/libophtha.so path/to/ophtha.h
set -euo pipefail
library=$1
header=$2

exported=$(nm -D --defined-only "$library" | awk '{print $3}')
[ -n "$exported" ] || { echo "FAIL: nm -D lists no symbols for $library"; exit 1; }

# A symbol is ours when it is a C function ophtha_*, or its demangled name is in namespace ophtha
# (possibly behind "typeinfo for", "vtable for", ... or a template function's return type).
foreign=$(echo "$exported" | c++filt | grep -Ev \
  -e '^ophtha_[a-z0-9_]+$' \
  -e '^ophtha::' \
  -e '^(typeinfo|typeinfo name|vtable|VTT|construction vtable|non-virtual thunk to|virtual thunk to) (for )?ophtha::' \
  -e '^(void|bool|int|float|double) ophtha::' || true)
if [ -n "$foreign" ]; then
  echo "FAIL: $library exports symbols outside the C ABI and namespace ophtha:"
  echo "$foreign" | head -20
  echo "($(echo "$foreign" | wc -l) in all; src/capi/libophtha.map decides what is exported)"
  exit 1
fi

declared=$(grep -oE 'OPHTHA_API [^(]*\bophtha_[a-z0-9_]+\(' "$header" | grep -oE 'ophtha_[a-z0-9_]+\($' | tr -d '(' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$exported" | sort -u))
if [ -n "$missing" ]; then
  echo "FAIL: functions declared in $header but not exported by $library:"
  echo "$missing"
  exit 1
fi
echo "ok: $(echo "$exported" | wc -l) exported symbols, all C ABI or namespace ophtha;" \
     "all $(echo "$declared" | wc -l) functions of ophtha.h exported"
