// write_safetensors: the layout of the reference writer (huggingface/safetensors tensor.rs
// prepare/serialize): tensors by descending dtype size then name, header padded with spaces to 8.
#include <algorithm>
#include <cstring>
#include <set>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ophtha/error.hpp"
#include "ophtha/safetensors.hpp"

namespace ophtha {
namespace {

// True when `text` is well-formed UTF-8 (RFC 3629: shortest form, no surrogates, at most
// U+10FFFF) — what the JSON header must hold, and what nlohmann refuses to dump otherwise.
bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
    const uint8_t lead = byte(i);
    size_t length = 0;
    uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (lead < 0x80) length = 1;
    else if (lead >= 0xC2 && lead <= 0xDF) length = 2;
    else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) lo = 0xA0;  // no overlong forms
      if (lead == 0xED) hi = 0x9F;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) lo = 0x90;  // no overlong forms
      if (lead == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const uint8_t b = byte(i + k);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return false;
    }
    i += length;
  }
  return true;
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<SafetensorsTensorData>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const SafetensorsTensorData*> order;
  std::set<std::string_view> names;
  for (const SafetensorsTensorData& t : tensors) {
    if (t.name == "__metadata__")
      fail(ErrorCode::InvalidArgument, "{}: a tensor may not be named __metadata__", path);
    if (!is_valid_utf8(t.name))
      fail(ErrorCode::InvalidArgument, "{}: tensor name '{}' is not valid UTF-8", path, t.name);
    if (!names.insert(t.name).second)
      fail(ErrorCode::InvalidArgument, "{}: tensor '{}' given twice", path, t.name);
    const std::optional<uint64_t> elem_size = safetensors_dtype_size(t.dtype);
    if (!elem_size) fail(ErrorCode::InvalidArgument, "{}: tensor '{}' has unknown dtype '{}'", path, t.name, t.dtype);
    uint64_t n_bytes = *elem_size;
    for (const int64_t d : t.shape) {
      if (d < 0) fail(ErrorCode::InvalidArgument, "{}: tensor '{}' has negative dimension {}", path, t.name, d);
      if (__builtin_mul_overflow(n_bytes, static_cast<uint64_t>(d), &n_bytes))
        fail(ErrorCode::InvalidArgument, "{}: tensor '{}': byte size overflows", path, t.name);
    }
    if (n_bytes != t.bytes.size())
      fail(ErrorCode::InvalidArgument, "{}: tensor '{}': {} bytes given, shape and {} need {}", path,
           t.name, t.bytes.size(), t.dtype, n_bytes);
    order.push_back(&t);
  }
  for (const auto& [key, value] : metadata)
    if (!is_valid_utf8(key) || !is_valid_utf8(value))
      fail(ErrorCode::InvalidArgument, "{}: __metadata__ entry '{}' is not valid UTF-8 (key or value)", path, key);
  std::sort(order.begin(), order.end(), [](const SafetensorsTensorData* a, const SafetensorsTensorData* b) {
    const uint64_t sa = *safetensors_dtype_size(a->dtype), sb = *safetensors_dtype_size(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });

  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const SafetensorsTensorData* t : order) {
    header[t->name] = {{"dtype", t->dtype},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + t->bytes.size()}}};
    offset += t->bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t header_len = text.size();
  uint8_t len_bytes[8];
  std::memcpy(len_bytes, &header_len, 8);

  AtomicFileWriter out(path);
  out.write(len_bytes, 8);
  out.write(text.data(), text.size());
  for (const SafetensorsTensorData* t : order) out.write(t->bytes.data(), t->bytes.size());
  out.commit();
}

}  // namespace ophtha
