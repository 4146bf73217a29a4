#include "capi/struct_size.hpp"

#include <string>

namespace ophtha::capi {

void check_struct_size(const StructLayout& layout, uint32_t struct_size) {
  if (struct_size > layout.size && struct_size <= OPHTHA_MAX_STRUCT_SIZE) return;
  for (const size_t end : layout.field_ends)
    if (struct_size == end) return;
  if (struct_size == layout.size) return;
  std::string valid;
  for (const size_t end : layout.field_ends) valid += fmt::format("{}, ", end);
  fail(ErrorCode::InvalidArgument,
       "{}.struct_size is {}, expected sizeof({}) from the caller's ophtha.h: the end of one of its fields "
       "({}this library's size {}) or a larger size up to {} from a newer ophtha.h; was the struct filled by "
       "its *_default function?",
       layout.name, struct_size, layout.name, valid, layout.size, OPHTHA_MAX_STRUCT_SIZE);
}

void check_unknown_tail(const StructLayout& layout, const void* caller, uint32_t struct_size) {
  check_struct_size(layout, struct_size);
  const auto* bytes = static_cast<const unsigned char*>(caller);
  for (size_t offset = layout.size; offset < struct_size; ++offset)
    if (bytes[offset] != 0)
      fail(ErrorCode::Unsupported,
           "{} from a newer ophtha.h ({} bytes) sets a field at byte offset {} that this library "
           "(ophtha {}, {} bytes) does not know; leave it zero or use a newer library",
           layout.name, struct_size, offset, OPHTHA_VERSION_STRING, layout.size);
}

}  // namespace ophtha::capi
