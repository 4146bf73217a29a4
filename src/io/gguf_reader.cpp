// GgufFile: validates a mapped GGUF file in one pass (see gguf.hpp for the rules) and keeps, for
// each key, where its value lies in the mapping; getters decode from there on request.
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>

#include "ophtha/error.hpp"
#include "ophtha/gguf.hpp"

namespace ophtha {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint64_t kMaxKeyBytes = 65535;
constexpr uint64_t kMaxTensorNameBytes = 64;
constexpr uint32_t kMaxDims = 4;
constexpr int kMaxArrayDepth = 4;            // an array inside an array inside ... four levels
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;  // empty key, type, smallest value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, n_dims, one dim, type, offset
constexpr uint64_t kMinArrayBytes = 4 + 8;   // element type + count

// Size of a fixed-size value type, 0 for STRING and ARRAY, nullopt for an unknown type.
std::optional<uint64_t> fixed_size(uint32_t type) {
  switch (static_cast<GgufType>(type)) {
    case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    case GgufType::STRING: case GgufType::ARRAY: return 0;
  }
  return std::nullopt;
}

bool is_integer(GgufType type) {
  switch (type) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
    case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64: return true;
    default: return false;
  }
}


template <typename T>
T load(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

// An integer of any GGUF integer type: `negative` ⇒ `value` holds the signed value's bits.
struct Integer {
  bool negative;
  uint64_t value;
  int64_t as_signed() const { return static_cast<int64_t>(value); }
};

Integer load_integer(GgufType type, const uint8_t* p) {
  int64_t s = 0;
  switch (type) {
    case GgufType::U8: return {false, load<uint8_t>(p)};
    case GgufType::U16: return {false, load<uint16_t>(p)};
    case GgufType::U32: return {false, load<uint32_t>(p)};
    case GgufType::U64: return {false, load<uint64_t>(p)};
    case GgufType::I8: s = load<int8_t>(p); break;
    case GgufType::I16: s = load<int16_t>(p); break;
    case GgufType::I32: s = load<int32_t>(p); break;
    default: s = load<int64_t>(p); break;
  }
  return {s < 0, static_cast<uint64_t>(s)};
}

// ggml type names by id, for messages; ids ggml removed or never defined are "".
std::string_view ggml_type_name(uint32_t id) {
  static constexpr std::string_view names[] = {
      "F32",    "F16",   "Q4_0",   "Q4_1",    "",       "",      "Q5_0",  "Q5_1",  "Q8_0",
      "Q8_1",   "Q2_K",  "Q3_K",   "Q4_K",    "Q5_K",   "Q6_K",  "Q8_K",  "IQ2_XXS",
      "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S",  "IQ2_S", "IQ4_XS", "I8",   "I16",
      "I32",    "I64",   "F64",    "IQ1_M",   "BF16",   "",      "",      "",      "TQ1_0",
      "TQ2_0",  "",      "",       "",        "MXFP4"};
  return id < std::size(names) ? names[id] : std::string_view();
}

bool checked_add(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }

// Where a value lies in the mapping: for ARRAY, `pos` is the first element.
struct ValueRef {
  GgufType type;
  GgufType elem_type;
  uint64_t count;
  uint64_t pos;
};

// Bounds-checked reading of the mapped bytes; every error names the file and what was being read.
class Cursor {
 public:
  explicit Cursor(const MappedFile& file) : file_(file) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return file_.size() - pos_; }
  void set_context(std::string context) { context_ = std::move(context); }

  template <typename... Args>
  [[noreturn]] void fail_here(fmt::format_string<Args...> format, Args&&... args) const {
    fail(ErrorCode::InvalidFormat, "{}: {}: {}", file_.path(), context_,
         fmt::format(format, std::forward<Args>(args)...));
  }

  void need(uint64_t n, std::string_view what) const {
    if (n > remaining())
      fail_here("file ends inside {} (needs {} bytes at offset {}, file is {} bytes)", what, n,
                pos_, file_.size());
  }
  const uint8_t* take(uint64_t n, std::string_view what) {
    need(n, what);
    const uint8_t* p = file_.data() + pos_;
    pos_ += n;
    return p;
  }
  template <typename T>
  T read(std::string_view what) {
    return load<T>(take(sizeof(T), what));
  }
  std::string_view read_string(uint64_t max_bytes, std::string_view what) {
    const uint64_t n = read<uint64_t>(what);
    if (n > remaining())
      fail_here("{} length {} is larger than the {} bytes left in the file", what, n, remaining());
    if (n > max_bytes) fail_here("{} length {} exceeds the limit of {} bytes", what, n, max_bytes);
    return {reinterpret_cast<const char*>(take(n, what)), static_cast<size_t>(n)};
  }

 private:
  const MappedFile& file_;
  uint64_t pos_ = 0;
  std::string context_ = "header";
};

void check_bools(Cursor& c, const uint8_t* p, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i)
    if (p[i] > 1) c.fail_here("BOOL value {} at element {} is not 0 or 1", p[i], i);
}

// Validates one value of `type` at the cursor and moves past it.
void skip_value(Cursor& c, uint32_t type, int depth) {
  const std::optional<uint64_t> size = fixed_size(type);
  if (!size) c.fail_here("unknown value type {}", type);
  switch (static_cast<GgufType>(type)) {
    case GgufType::STRING: c.read_string(std::numeric_limits<uint64_t>::max(), "string"); return;
    case GgufType::ARRAY: {
      const uint32_t elem = c.read<uint32_t>("array element type");
      const std::optional<uint64_t> elem_size = fixed_size(elem);
      if (!elem_size) c.fail_here("array has unknown element type {}", elem);
      if (elem == static_cast<uint32_t>(GgufType::ARRAY) && depth + 1 >= kMaxArrayDepth)
        c.fail_here("arrays nested more than {} deep", kMaxArrayDepth);
      const uint64_t count = c.read<uint64_t>("array count");
      const uint64_t min_elem = *elem_size != 0                                     ? *elem_size
                                : elem == static_cast<uint32_t>(GgufType::STRING) ? 8
                                                                                    : kMinArrayBytes;
      if (count > c.remaining() / min_elem)
        c.fail_here("array count {} of {} is larger than the {} bytes left could hold", count,
                    gguf_type_name(static_cast<GgufType>(elem)), c.remaining());
      if (*elem_size != 0) {
        const uint8_t* p = c.take(count * *elem_size, "array");
        if (elem == static_cast<uint32_t>(GgufType::BOOL)) check_bools(c, p, count);
        return;
      }
      for (uint64_t i = 0; i < count; ++i) skip_value(c, elem, depth + 1);
      return;
    }
    default: {
      const uint8_t* p = c.take(*size, gguf_type_name(static_cast<GgufType>(type)));
      if (static_cast<GgufType>(type) == GgufType::BOOL) check_bools(c, p, 1);
    }
  }
}

}  // namespace

std::string gguf_type_name(GgufType type) {
  static constexpr std::string_view names[] = {"U8",  "I8",   "U16",    "I16",   "U32",
                                               "I32", "F32",  "BOOL",   "STRING", "ARRAY",
                                               "U64", "I64",  "F64"};
  const auto id = static_cast<uint32_t>(type);
  return id < std::size(names) ? std::string(names[id]) : fmt::format("type {}", id);
}

struct GgufFile::Impl {
  std::shared_ptr<const MappedFile> file;
  uint32_t version = 0;
  uint64_t alignment = kDefaultAlignment;
  std::vector<std::string> keys;
  std::unordered_map<std::string, ValueRef> values;
  std::vector<GgufTensorInfo> tensors;
  std::unordered_map<std::string, size_t> tensor_index;

  const std::string& path() const { return file->path(); }
  const uint8_t* at(uint64_t pos) const { return file->data() + pos; }

  template <typename... Args>
  [[noreturn]] void fail_key(const std::string& key, fmt::format_string<Args...> format,
                             Args&&... args) const {
    fail(ErrorCode::InvalidFormat, "{}: key '{}': {}", path(), key,
         fmt::format(format, std::forward<Args>(args)...));
  }
  const ValueRef* lookup(const std::string& key) const {
    const auto it = values.find(key);
    return it == values.end() ? nullptr : &it->second;
  }
  const ValueRef& require(const std::string& key) const {
    const ValueRef* v = lookup(key);
    if (!v) fail_key(key, "missing key");
    return *v;
  }
  const ValueRef& require_array(const std::string& key, std::string_view expected) const {
    const ValueRef& v = require(key);
    if (v.type != GgufType::ARRAY)
      fail_key(key, "has type {}, expected an array of {}", gguf_type_name(v.type), expected);
    return v;
  }
  [[noreturn]] void fail_elem_type(const std::string& key, const ValueRef& v,
                                   std::string_view expected) const {
    fail_key(key, "is an array of {}, expected an array of {}", gguf_type_name(v.elem_type),
             expected);
  }

  uint64_t to_uint(const std::string& key, const ValueRef& v) const {
    if (!is_integer(v.type))
      fail_key(key, "has type {}, expected an integer", gguf_type_name(v.type));
    const Integer i = load_integer(v.type, at(v.pos));
    if (i.negative) fail_key(key, "is {}, expected a non-negative integer", i.as_signed());
    return i.value;
  }
  double to_float(const std::string& key, const ValueRef& v) const {
    if (v.type == GgufType::F32) return load<float>(at(v.pos));
    if (v.type == GgufType::F64) return load<double>(at(v.pos));
    fail_key(key, "has type {}, expected F32 or F64", gguf_type_name(v.type));
  }
  std::string string_at(uint64_t pos) const {
    const uint64_t n = load<uint64_t>(at(pos));
    return std::string(reinterpret_cast<const char*>(at(pos + 8)), static_cast<size_t>(n));
  }
  std::string to_string(const std::string& key, const ValueRef& v) const {
    if (v.type != GgufType::STRING)
      fail_key(key, "has type {}, expected STRING", gguf_type_name(v.type));
    return string_at(v.pos);
  }

  void parse();
  void parse_kvs(Cursor& c, uint64_t kv_count);
  void read_alignment();
  void parse_tensor_infos(Cursor& c, uint64_t tensor_count);
  void place_tensors(Cursor& c);
};

void GgufFile::Impl::parse() {
  Cursor c(*file);
  const uint32_t magic = c.read<uint32_t>("magic");
  if (magic != kMagic)
    c.fail_here("not a GGUF file: magic is 0x{:08x}, expected 0x{:08x} (\"GGUF\")", magic, kMagic);
  version = c.read<uint32_t>("version");
  if (version == 0x02000000 || version == 0x03000000)
    c.fail_here("big-endian GGUF (version bytes {:08x}) is not supported", version);
  if (version != 2 && version != 3) c.fail_here("version {} is not supported (only 2 and 3)", version);
  const uint64_t tensor_count = c.read<uint64_t>("tensor count");
  const uint64_t kv_count = c.read<uint64_t>("kv count");
  if (kv_count > c.remaining() / kMinKvBytes)
    c.fail_here("kv count {} is larger than the {} bytes left could hold", kv_count, c.remaining());
  if (tensor_count > c.remaining() / kMinTensorInfoBytes)
    c.fail_here("tensor count {} is larger than the {} bytes left could hold", tensor_count,
                c.remaining());
  parse_kvs(c, kv_count);
  read_alignment();
  parse_tensor_infos(c, tensor_count);
  place_tensors(c);
}

void GgufFile::Impl::parse_kvs(Cursor& c, uint64_t kv_count) {
  for (uint64_t i = 0; i < kv_count; ++i) {
    c.set_context(fmt::format("kv {}", i));
    std::string key(c.read_string(kMaxKeyBytes, "key"));
    c.set_context(fmt::format("key '{}'", key));
    const uint32_t type = c.read<uint32_t>("value type");
    ValueRef ref{static_cast<GgufType>(type), GgufType::U8, 1, c.pos()};
    const uint64_t start = c.pos();
    skip_value(c, type, 0);
    if (ref.type == GgufType::ARRAY) {
      ref.elem_type = static_cast<GgufType>(load<uint32_t>(at(start)));
      ref.count = load<uint64_t>(at(start + 4));
      ref.pos = start + kMinArrayBytes;
    }
    if (!values.emplace(key, ref).second) c.fail_here("duplicate key");
    keys.push_back(std::move(key));
  }
}

void GgufFile::Impl::read_alignment() {
  static const std::string key = "general.alignment";
  const ValueRef* v = lookup(key);
  if (!v) return;
  if (!is_integer(v->type))
    fail_key(key, "has type {}, expected an integer (ggml writes U32)", gguf_type_name(v->type));
  const Integer a = load_integer(v->type, at(v->pos));
  if (a.negative || a.value < 8 || (a.value & (a.value - 1)) != 0)
    fail_key(key, "is {}, expected a power of two of at least 8",
             a.negative ? fmt::format("{}", a.as_signed()) : fmt::format("{}", a.value));
  alignment = a.value;
}

void GgufFile::Impl::parse_tensor_infos(Cursor& c, uint64_t tensor_count) {
  tensors.reserve(static_cast<size_t>(std::min<uint64_t>(tensor_count, 4096)));  // the count is not yet proven
  for (uint64_t i = 0; i < tensor_count; ++i) {
    c.set_context(fmt::format("tensor {}", i));
    GgufTensorInfo t{};
    t.name = std::string(c.read_string(kMaxTensorNameBytes, "tensor name"));
    c.set_context(fmt::format("tensor '{}'", t.name));
    const uint32_t n_dims = c.read<uint32_t>("n_dims");
    if (n_dims < 1 || n_dims > kMaxDims) c.fail_here("n_dims is {}, expected 1..{}", n_dims, kMaxDims);
    uint64_t n_elems = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = c.read<uint64_t>("dimension");
      if (ne == 0) c.fail_here("ne[{}] is 0, expected a positive dimension", d);
      if (__builtin_mul_overflow(n_elems, ne, &n_elems) ||
          n_elems > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        c.fail_here("element count overflows int64 at ne[{}] = {}", d, ne);
      t.ne.push_back(ne);
    }
    const uint32_t type_id = c.read<uint32_t>("ggml type");
    const std::optional<TensorType> type = tensor_type_from_ggml(type_id);
    if (!type) {
      const std::string_view name = ggml_type_name(type_id);
      if (name.empty()) c.fail_here("unknown ggml type id {}", type_id);
      fail(ErrorCode::Unsupported, "{}: tensor '{}': ggml type {} ({}) is not supported by Ophtha",
           path(), t.name, name, type_id);
    }
    t.type = *type;
    const TensorTypeInfo& info = tensor_type_info(t.type);
    if (t.ne[0] % static_cast<uint64_t>(info.block_elems) != 0)
      c.fail_here("ne[0] = {} is not a multiple of the {} block size {}", t.ne[0], info.name,
                  info.block_elems);
    const std::optional<uint64_t> nbytes = tensor_bytes(t.type, n_elems);
    if (!nbytes) c.fail_here("byte size of {} {} elements overflows", n_elems, info.name);
    t.nbytes = *nbytes;
    t.offset = c.read<uint64_t>("tensor offset");
    if (t.offset % alignment != 0)
      c.fail_here("data offset {} is not a multiple of the alignment {}", t.offset, alignment);
    if (!tensor_index.emplace(t.name, tensors.size()).second) c.fail_here("duplicate tensor name");
    tensors.push_back(std::move(t));
  }
}

void GgufFile::Impl::place_tensors(Cursor& c) {
  c.set_context("tensor data");
  uint64_t data_start = 0;
  const uint64_t pad = (alignment - c.pos() % alignment) % alignment;
  if (!checked_add(c.pos(), pad, data_start)) c.fail_here("data section offset overflows");
  std::vector<std::pair<uint64_t, size_t>> by_offset;  // (end, tensor) sorted by begin
  by_offset.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    GgufTensorInfo& t = tensors[i];
    uint64_t begin = 0, end = 0;
    if (!checked_add(data_start, t.offset, begin) || !checked_add(begin, t.nbytes, end) ||
        end > file->size())
      fail(ErrorCode::InvalidFormat,
           "{}: tensor '{}': data [{} + {}, +{} bytes) runs past the end of the file ({} bytes)",
           path(), t.name, data_start, t.offset, t.nbytes, file->size());
    t.data = at(begin);
    by_offset.emplace_back(begin, i);
  }
  std::sort(by_offset.begin(), by_offset.end());
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const GgufTensorInfo& prev = tensors[by_offset[k - 1].second];
    const GgufTensorInfo& cur = tensors[by_offset[k].second];
    if (by_offset[k - 1].first + prev.nbytes > by_offset[k].first)
      fail(ErrorCode::InvalidFormat, "{}: tensor '{}' (offset {}) overlaps tensor '{}' (offset {})",
           path(), cur.name, cur.offset, prev.name, prev.offset);
  }
}

GgufFile GgufFile::open(const std::string& path) {
  auto impl = std::make_shared<Impl>();
  impl->file = MappedFile::open(path);
  impl->parse();
  return GgufFile(std::move(impl));
}

uint32_t GgufFile::version() const { return impl_->version; }
const std::string& GgufFile::path() const { return impl_->path(); }
std::shared_ptr<const MappedFile> GgufFile::mapping() const { return impl_->file; }
uint64_t GgufFile::alignment() const { return impl_->alignment; }
bool GgufFile::has(const std::string& key) const { return impl_->lookup(key) != nullptr; }
GgufType GgufFile::type_of(const std::string& key) const { return impl_->require(key).type; }
std::vector<std::string> GgufFile::keys() const { return impl_->keys; }

GgufType GgufFile::array_type_of(const std::string& key) const {
  return impl_->require_array(key, "any type").elem_type;
}

uint64_t GgufFile::get_uint(const std::string& key) const {
  return impl_->to_uint(key, impl_->require(key));
}
std::optional<uint64_t> GgufFile::find_uint(const std::string& key) const {
  const ValueRef* v = impl_->lookup(key);
  return v ? std::optional<uint64_t>(impl_->to_uint(key, *v)) : std::nullopt;
}
double GgufFile::get_float(const std::string& key) const {
  return impl_->to_float(key, impl_->require(key));
}
std::optional<double> GgufFile::find_float(const std::string& key) const {
  const ValueRef* v = impl_->lookup(key);
  return v ? std::optional<double>(impl_->to_float(key, *v)) : std::nullopt;
}
std::string GgufFile::get_string(const std::string& key) const {
  return impl_->to_string(key, impl_->require(key));
}
std::optional<std::string> GgufFile::find_string(const std::string& key) const {
  const ValueRef* v = impl_->lookup(key);
  return v ? std::optional<std::string>(impl_->to_string(key, *v)) : std::nullopt;
}
std::optional<bool> GgufFile::find_bool(const std::string& key) const {
  const ValueRef* v = impl_->lookup(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::BOOL)
    impl_->fail_key(key, "has type {}, expected BOOL", gguf_type_name(v->type));
  return impl_->at(v->pos)[0] != 0;
}

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  const ValueRef& v = impl_->require_array(key, "STRING");
  if (v.elem_type != GgufType::STRING) impl_->fail_elem_type(key, v, "STRING");
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(v.count));
  uint64_t pos = v.pos;
  for (uint64_t i = 0; i < v.count; ++i) {
    out.push_back(impl_->string_at(pos));
    pos += 8 + out.back().size();
  }
  return out;
}

std::vector<float> GgufFile::get_float_array(const std::string& key) const {
  const ValueRef& v = impl_->require_array(key, "F32 or F64");
  if (v.elem_type != GgufType::F32 && v.elem_type != GgufType::F64)
    impl_->fail_elem_type(key, v, "F32 or F64");
  std::vector<float> out(static_cast<size_t>(v.count));
  const uint8_t* p = impl_->at(v.pos);
  for (uint64_t i = 0; i < v.count; ++i)
    out[i] = v.elem_type == GgufType::F32 ? load<float>(p + 4 * i)
                                          : static_cast<float>(load<double>(p + 8 * i));
  return out;
}

std::vector<int32_t> GgufFile::get_int_array(const std::string& key) const {
  const ValueRef& v = impl_->require_array(key, "integers");
  if (!is_integer(v.elem_type)) impl_->fail_elem_type(key, v, "integers");
  const uint64_t size = *fixed_size(static_cast<uint32_t>(v.elem_type));
  std::vector<int32_t> out(static_cast<size_t>(v.count));
  const uint8_t* p = impl_->at(v.pos);
  for (uint64_t i = 0; i < v.count; ++i) {
    const Integer x = load_integer(v.elem_type, p + size * i);
    const bool fits = x.negative ? x.as_signed() >= std::numeric_limits<int32_t>::min()
                                 : x.value <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max());
    if (!fits)
      impl_->fail_key(key, "element {} is {}, which does not fit in int32", i,
                      x.negative ? fmt::format("{}", x.as_signed()) : fmt::format("{}", x.value));
    out[i] = static_cast<int32_t>(x.negative ? x.as_signed() : static_cast<int64_t>(x.value));
  }
  return out;
}

const std::vector<GgufTensorInfo>& GgufFile::tensors() const { return impl_->tensors; }
const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  const auto it = impl_->tensor_index.find(name);
  return it == impl_->tensor_index.end() ? nullptr : &impl_->tensors[it->second];
}

}  // namespace ophtha
