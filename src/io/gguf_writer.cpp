// GgufWriter: encodes values as they are set and lays the file out on write().
#include <cstring>
#include <string>
#include <type_traits>

#include "ophtha/error.hpp"
#include "ophtha/gguf.hpp"

namespace ophtha {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF"
constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint64_t kMaxKeyBytes = 65535;
constexpr uint64_t kMaxTensorNameBytes = 64;

template <typename T>
void put(std::vector<uint8_t>& out, T value) {
  const size_t at = out.size();
  out.resize(at + sizeof value);
  std::memcpy(out.data() + at, &value, sizeof value);
}

void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

template <typename T>
constexpr GgufType gguf_type_of() {
  if constexpr (std::is_same_v<T, uint8_t>) return GgufType::U8;
  else if constexpr (std::is_same_v<T, int8_t>) return GgufType::I8;
  else if constexpr (std::is_same_v<T, uint16_t>) return GgufType::U16;
  else if constexpr (std::is_same_v<T, int16_t>) return GgufType::I16;
  else if constexpr (std::is_same_v<T, uint32_t>) return GgufType::U32;
  else if constexpr (std::is_same_v<T, int32_t>) return GgufType::I32;
  else if constexpr (std::is_same_v<T, uint64_t>) return GgufType::U64;
  else if constexpr (std::is_same_v<T, int64_t>) return GgufType::I64;
  else if constexpr (std::is_same_v<T, float>) return GgufType::F32;
  else if constexpr (std::is_same_v<T, double>) return GgufType::F64;
  else if constexpr (std::is_same_v<T, bool>) return GgufType::BOOL;
  else {
    static_assert(std::is_same_v<T, std::string>, "no GGUF type for T");
    return GgufType::STRING;
  }
}

template <typename T>
void put_value(std::vector<uint8_t>& out, const T& value) {
  if constexpr (std::is_same_v<T, std::string>) put_string(out, value);
  else if constexpr (std::is_same_v<T, bool>) put<uint8_t>(out, value ? 1 : 0);
  else put<T>(out, value);
}

template <typename T>
std::vector<uint8_t> encode(const T& value) {
  std::vector<uint8_t> out;
  put_value(out, value);
  return out;
}

uint64_t align_up(uint64_t offset, uint64_t alignment) {
  return offset + (alignment - offset % alignment) % alignment;
}

}  // namespace

void GgufWriter::set_value(const std::string& key, GgufType type, std::vector<uint8_t> payload) {
  if (key.size() > kMaxKeyBytes)
    fail(ErrorCode::InvalidArgument, "GGUF key of {} bytes exceeds the limit of {}", key.size(),
         kMaxKeyBytes);
  for (Entry& e : entries_) {
    if (e.key == key) {
      e.type = type;
      e.payload = std::move(payload);
      return;
    }
  }
  entries_.push_back({key, type, std::move(payload)});
}

void GgufWriter::set_uint8(const std::string& key, uint8_t v) { set_value(key, GgufType::U8, encode(v)); }
void GgufWriter::set_int8(const std::string& key, int8_t v) { set_value(key, GgufType::I8, encode(v)); }
void GgufWriter::set_uint16(const std::string& key, uint16_t v) { set_value(key, GgufType::U16, encode(v)); }
void GgufWriter::set_int16(const std::string& key, int16_t v) { set_value(key, GgufType::I16, encode(v)); }
void GgufWriter::set_uint32(const std::string& key, uint32_t v) { set_value(key, GgufType::U32, encode(v)); }
void GgufWriter::set_int32(const std::string& key, int32_t v) { set_value(key, GgufType::I32, encode(v)); }
void GgufWriter::set_uint64(const std::string& key, uint64_t v) { set_value(key, GgufType::U64, encode(v)); }
void GgufWriter::set_int64(const std::string& key, int64_t v) { set_value(key, GgufType::I64, encode(v)); }
void GgufWriter::set_float32(const std::string& key, float v) { set_value(key, GgufType::F32, encode(v)); }
void GgufWriter::set_float64(const std::string& key, double v) { set_value(key, GgufType::F64, encode(v)); }
void GgufWriter::set_bool(const std::string& key, bool v) { set_value(key, GgufType::BOOL, encode(v)); }
void GgufWriter::set_string(const std::string& key, const std::string& v) {
  set_value(key, GgufType::STRING, encode(v));
}

template <typename T>
void GgufWriter::set_array(const std::string& key, const std::vector<T>& values) {
  std::vector<uint8_t> payload;
  put<uint32_t>(payload, static_cast<uint32_t>(gguf_type_of<T>()));
  put<uint64_t>(payload, values.size());
  for (const auto& v : values) put_value<T>(payload, v);
  set_value(key, GgufType::ARRAY, std::move(payload));
}

template OPHTHA_API void GgufWriter::set_array(const std::string&, const std::vector<uint8_t>&);
template OPHTHA_API void GgufWriter::set_array(const std::string&, const std::vector<int8_t>&);
template OPHTHA_API void GgufWriter::set_array(const std::string&, const std::vector<uint16_t>&);
template OPHTHA_API void GgufWriter::set_array(const std::string&, const std::vector<int16_t>&);
template OPHTHA_API void GgufWriter::set_array(const std::string&, const std::vector<uint32_t>&);
template OPHTHA_API void GgufWriter::set_array(const std::string&, const std::vector<int32_t>&);
template OPHTHA_API void GgufWriter::set_array(const std::string&, const std::vector<uint64_t>&);
template OPHTHA_API void GgufWriter::set_array(const std::string&, const std::vector<int64_t>&);
template OPHTHA_API void GgufWriter::set_array(const std::string&, const std::vector<float>&);
template OPHTHA_API void GgufWriter::set_array(const std::string&, const std::vector<double>&);
template OPHTHA_API void GgufWriter::set_array(const std::string&, const std::vector<bool>&);
template OPHTHA_API void GgufWriter::set_array(const std::string&, const std::vector<std::string>&);

void GgufWriter::add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> ne,
                            std::vector<uint8_t> bytes) {
  if (name.size() > kMaxTensorNameBytes)
    fail(ErrorCode::InvalidArgument, "tensor name '{}' is longer than {} bytes", name,
         kMaxTensorNameBytes);
  for (const Tensor& t : tensors_)
    if (t.name == name) fail(ErrorCode::InvalidArgument, "tensor '{}' added twice", name);
  if (ne.empty() || ne.size() > 4)
    fail(ErrorCode::InvalidArgument, "tensor '{}' has {} dimensions, expected 1..4", name, ne.size());
  uint64_t n_elems = 1;
  for (const uint64_t d : ne) {
    if (d == 0) fail(ErrorCode::InvalidArgument, "tensor '{}' has a zero dimension", name);
    if (__builtin_mul_overflow(n_elems, d, &n_elems))
      fail(ErrorCode::InvalidArgument, "tensor '{}': element count overflows", name);
  }
  const auto block = static_cast<uint64_t>(tensor_type_info(type).block_elems);
  if (ne[0] % block != 0)  // blocks run along rows: readers (ours, ggml) refuse anything else
    fail(ErrorCode::InvalidArgument, "tensor '{}': row length ne[0] = {} is not a multiple of the {} block size {}",
         name, ne[0], tensor_type_info(type).name, block);
  const std::optional<uint64_t> expected = tensor_bytes(type, n_elems);
  if (!expected || *expected != bytes.size())
    fail(ErrorCode::InvalidArgument, "tensor '{}': {} bytes given, {} {} elements need {}", name,
         bytes.size(), n_elems, tensor_type_info(type).name,
         expected ? fmt::format("{}", *expected) : std::string("a whole number of blocks"));
  tensors_.push_back({name, type, std::move(ne), std::move(bytes)});
}

uint64_t GgufWriter::alignment() const {
  for (const Entry& e : entries_) {
    if (e.key != "general.alignment") continue;
    uint64_t a = 0;
    bool negative = false;
    switch (e.type) {
      case GgufType::U8: case GgufType::U16: case GgufType::U32: case GgufType::U64:
        std::memcpy(&a, e.payload.data(), e.payload.size());
        break;
      case GgufType::I8: case GgufType::I16: case GgufType::I32: case GgufType::I64: {
        int64_t s = 0;
        std::memcpy(&s, e.payload.data(), e.payload.size());
        // sign-extend from the stored width
        const unsigned shift = 64 - 8 * static_cast<unsigned>(e.payload.size());
        s = static_cast<int64_t>(static_cast<uint64_t>(s) << shift) >> shift;
        negative = s < 0;
        a = static_cast<uint64_t>(s);
        break;
      }
      default:
        fail(ErrorCode::InvalidArgument, "general.alignment has type {}, expected an integer",
             gguf_type_name(e.type));
    }
    if (negative || a < 8 || (a & (a - 1)) != 0)
      fail(ErrorCode::InvalidArgument, "general.alignment must be a power of two of at least 8");
    return a;
  }
  return kDefaultAlignment;
}

void GgufWriter::write(const std::string& path) const {
  const uint64_t align = alignment();
  std::vector<uint8_t> head;
  put<uint32_t>(head, kMagic);
  put<uint32_t>(head, kVersion);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, entries_.size());
  for (const Entry& e : entries_) {
    put_string(head, e.key);
    put<uint32_t>(head, static_cast<uint32_t>(e.type));
    head.insert(head.end(), e.payload.begin(), e.payload.end());
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    put_string(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
    for (const uint64_t d : t.ne) put<uint64_t>(head, d);
    put<uint32_t>(head, static_cast<uint32_t>(t.type));
    put<uint64_t>(head, offset);
    offset = align_up(offset + t.bytes.size(), align);
  }
  AtomicFileWriter out(path);
  out.write(head.data(), head.size());
  out.write_zeros(align_up(head.size(), align) - head.size());
  for (const Tensor& t : tensors_) {
    out.write(t.bytes.data(), t.bytes.size());
    out.write_zeros(align_up(t.bytes.size(), align) - t.bytes.size());
  }
  out.commit();
}

}  // namespace ophtha
