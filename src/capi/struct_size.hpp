// Versioned structs across the C ABI (ophtha.h, "Struct sizes"). A struct only grows by
// appending fields; a caller's struct_size says which prefix of it the caller knows. As in
// Linux's copy_struct_from_user (openat2, clone3): a smaller struct takes the library's
// defaults for the fields it lacks; a larger one is accepted only when every byte the library
// does not know is zero. Here the size must also end exactly after a field, so a garbage
// struct_size is caught instead of half a field being read.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>

#include "ophtha/error.hpp"
#include "ophtha/ophtha.h"

// The offset just past `field` of struct `type`: a struct_size that ends there is valid.
#define OPHTHA_FIELD_END(type, field) (offsetof(type, field) + sizeof(static_cast<type*>(nullptr)->field))

namespace ophtha::capi {

// The layout this library knows for one struct: its name for messages, sizeof, and the end
// offsets of its fields after struct_size, ascending.
struct StructLayout {
  const char* name;
  size_t size;
  std::initializer_list<size_t> field_ends;
};

// Throws Error(InvalidArgument) when `struct_size` is not the end of a field of `layout` nor a
// larger size up to OPHTHA_MAX_STRUCT_SIZE; the message lists the valid sizes.
void check_struct_size(const StructLayout& layout, uint32_t struct_size);

// check_struct_size, then Error(Unsupported) naming the first offset of a non-zero byte past the
// library's own struct in the caller's `struct_size` bytes at `caller`.
void check_unknown_tail(const StructLayout& layout, const void* caller, uint32_t struct_size);

// The caller's parameters over the defaults: the first min(struct_size, sizeof) bytes come
// from `caller`, the rest from `defaults`. `caller` NULL: the defaults.
template <typename Params>
Params read_params(const StructLayout& layout, const Params* caller, const Params& defaults) {
  if (caller == nullptr) return defaults;
  const uint32_t struct_size = caller->struct_size;
  check_unknown_tail(layout, caller, struct_size);
  Params params = defaults;
  std::memcpy(static_cast<void*>(&params), caller, std::min<size_t>(struct_size, sizeof(Params)));
  params.struct_size = static_cast<uint32_t>(sizeof(Params));
  return params;
}

// Writes the first min(struct_size, sizeof) bytes of `value` into `caller`, zeroes the bytes
// after them up to struct_size and sets caller->struct_size = struct_size (for *_params_default).
template <typename Struct>
void write_prefix(const StructLayout& layout, Struct* caller, uint32_t struct_size, const Struct& value) {
  check_struct_size(layout, struct_size);
  const size_t known = std::min<size_t>(struct_size, sizeof(Struct));
  std::memcpy(static_cast<void*>(caller), &value, known);
  if (struct_size > known) std::memset(reinterpret_cast<unsigned char*>(caller) + known, 0, struct_size - known);
  caller->struct_size = struct_size;
}

// Writes the fields of `value` that lie inside the caller's struct_size (for output structs the
// caller sized): bytes past the library's own struct are left as they were.
template <typename Struct>
void write_output(const StructLayout& layout, Struct* caller, Struct value) {
  const uint32_t struct_size = caller->struct_size;
  check_struct_size(layout, struct_size);
  value.struct_size = struct_size;
  std::memcpy(static_cast<void*>(caller), &value, std::min<size_t>(struct_size, sizeof(Struct)));
}

}  // namespace ophtha::capi
