// SafetensorsFile and SafetensorsCheckpoint: validation follows huggingface/safetensors
// safetensors/src/tensor.rs (read_metadata, validate); see safetensors.hpp for the rules.
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "ophtha/error.hpp"
#include "ophtha/safetensors.hpp"

namespace ophtha {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // MAX_HEADER_SIZE in tensor.rs
constexpr int kMaxJsonDepth = 8;
// nlohmann's document costs ~25× its text in memory, so these bound what a valid but hostile
// 100 MB header or index can make the reader hold (safetensors.hpp lists them).
constexpr uint64_t kMaxTensors = 1 << 18;            // per file, and per index
constexpr uint64_t kMaxRank = 16;
constexpr uint64_t kMaxEntryValues = 64;             // JSON values in one tensor entry
constexpr uint64_t kMaxMetadataEntries = 1 << 16;
constexpr uint64_t kMaxIndexValues = kMaxTensors + 4096;  // weight_map: one string per tensor
constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kSingleName = "model.safetensors";

// How much of a document parse_strict_json keeps, and what it hands over as it goes.
struct JsonBounds {
  uint64_t max_members;  // keys of the top-level object
  // With take_member: each member of the top-level object, once complete, is passed to it and
  // dropped from the document, so the document never holds more than one member; the value limit
  // (max_values_of(member name)) then applies to each member alone. Without: to the whole document.
  std::function<void(const std::string& name, const json& value)> take_member;
  std::function<uint64_t(const std::string& name)> max_values_of;
};

// Parses `text` as JSON, refusing repeated keys in any object (nlohmann would keep the last
// silently), nesting deeper than kMaxJsonDepth, and more keys or values than `bounds` allow —
// each refused before nlohmann has built the document that would hold them.
json parse_strict_json(std::string_view text, const std::string& path, std::string_view what,
                       const JsonBounds& bounds) {
  std::vector<std::set<std::string>> open_objects;
  std::vector<bool> open_is_object;
  int depth = 0;
  std::string member;         // the top-level key whose value is being parsed
  uint64_t values = 0;        // values since `member` began (or in the document)
  uint64_t max_values = bounds.take_member ? 0 : bounds.max_values_of("");
  auto count_value = [&]() {
    if (++values > max_values) {
      if (bounds.take_member)
        fail(ErrorCode::InvalidFormat, "{}: {}: '{}' holds more than {} JSON values", path, what, member,
             max_values);
      fail(ErrorCode::InvalidFormat, "{}: {} holds more than {} JSON values", path, what, max_values);
    }
  };
  // A member of the top-level object is complete: hand it over and drop it from the document.
  auto take = [&](int at_depth, json& parsed) {
    if (!bounds.take_member || at_depth != 1 || !open_is_object.front()) return true;
    bounds.take_member(member, parsed);
    return false;
  };
  auto callback = [&](int at_depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (at_depth > 0) count_value();
        if (at_depth == 0 && bounds.take_member && event == json::parse_event_t::array_start)
          fail(ErrorCode::InvalidFormat, "{}: {} is a JSON array, expected an object", path, what);
        open_objects.emplace_back();
        open_is_object.push_back(event == json::parse_event_t::object_start);
        if (++depth > kMaxJsonDepth)
          fail(ErrorCode::InvalidFormat, "{}: {} nests deeper than {} levels", path, what, kMaxJsonDepth);
        return true;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        open_objects.pop_back();
        open_is_object.pop_back();
        --depth;
        return take(at_depth, parsed);
      case json::parse_event_t::key: {
        std::set<std::string>& keys = open_objects.back();
        if (!keys.insert(parsed.get<std::string>()).second)
          fail(ErrorCode::InvalidFormat, "{}: {} repeats the key '{}'", path, what, parsed.get<std::string>());
        if (at_depth == 1) {
          if (keys.size() > bounds.max_members)
            fail(ErrorCode::InvalidFormat, "{}: {} has more than {} top-level keys", path, what,
                 bounds.max_members);
          if (bounds.take_member) {
            member = parsed.get<std::string>();
            values = 0;
            max_values = bounds.max_values_of(member);
          }
        }
        return true;
      }
      case json::parse_event_t::value:
        if (at_depth > 0) count_value();
        return take(at_depth, parsed);
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception& e) {
    fail(ErrorCode::InvalidFormat, "{}: {} is not valid JSON: {}", path, what, e.what());
  }
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_regular_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Opening a FIFO would block until a writer came; refuse anything but a plain file first.
void require_regular_file(const std::string& path) {
  if (!is_regular_file(path)) fail(ErrorCode::Io, "cannot open '{}': not a regular file", path);
}

}  // namespace

std::optional<uint64_t> safetensors_dtype_size(std::string_view dtype) {
  static const std::unordered_map<std::string_view, uint64_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},   {"F8_E5M2", 1}, {"F8_E4M3", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2},  {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"F64", 8},  {"I64", 8},     {"U64", 8}};
  const auto it = sizes.find(dtype);
  return it == sizes.end() ? std::nullopt : std::optional<uint64_t>(it->second);
}

struct SafetensorsFile::Impl {
  std::shared_ptr<const MappedFile> file;
  std::vector<SafetensorsTensor> tensors;
  std::unordered_map<std::string, size_t> index;
  std::map<std::string, std::string> metadata;

  const std::string& path() const { return file->path(); }

  template <typename... Args>
  [[noreturn]] void fail_format(fmt::format_string<Args...> format, Args&&... args) const {
    fail(ErrorCode::InvalidFormat, "{}: {}", path(), fmt::format(format, std::forward<Args>(args)...));
  }

  void parse();
  void read_metadata(const json& value);
  // Reads one header entry: the tensor (without `data`) and its BEGIN offset in the byte buffer.
  std::pair<uint64_t, SafetensorsTensor> read_entry(const std::string& name, const json& entry) const;
};

void SafetensorsFile::Impl::read_metadata(const json& value) {
  if (!value.is_object()) fail_format("__metadata__ is a JSON {}, expected an object", value.type_name());
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string())
      fail_format("__metadata__ '{}' is a JSON {}, expected a string", key, v.type_name());
    metadata.emplace(key, v.get<std::string>());
  }
}

std::pair<uint64_t, SafetensorsTensor> SafetensorsFile::Impl::read_entry(const std::string& name,
                                                                        const json& entry) const {
  if (!entry.is_object()) fail_format("tensor '{}' is a JSON {}, expected an object", name, entry.type_name());
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(field)) fail_format("tensor '{}' has no \"{}\"", name, field);
  const json& dtype = entry["dtype"];
  if (!dtype.is_string()) fail_format("tensor '{}': dtype is a JSON {}, expected a string", name, dtype.type_name());
  SafetensorsTensor t{name, dtype.get<std::string>(), {}, nullptr, 0, path()};
  const std::optional<uint64_t> elem_size = safetensors_dtype_size(t.dtype);
  if (!elem_size) fail_format("tensor '{}' has unknown dtype '{}'", name, t.dtype);
  const json& shape = entry["shape"];
  if (!shape.is_array()) fail_format("tensor '{}': shape is a JSON {}, expected an array", name, shape.type_name());
  if (shape.size() > kMaxRank)
    fail_format("tensor '{}': shape has {} dimensions, more than the limit of {}", name, shape.size(), kMaxRank);
  uint64_t n_elems = 1;
  for (const json& d : shape) {
    if (!d.is_number_unsigned() ||
        d.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail_format("tensor '{}': shape entry {} is not a non-negative integer", name, d.dump());
    const uint64_t dim = d.get<uint64_t>();
    if (__builtin_mul_overflow(n_elems, dim, &n_elems))
      fail_format("tensor '{}': element count of shape {} overflows", name, shape.dump());
    t.shape.push_back(static_cast<int64_t>(dim));
  }
  const json& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    fail_format("tensor '{}': data_offsets {} is not two non-negative integers", name, offsets.dump());
  const uint64_t begin = offsets[0].get<uint64_t>();
  const uint64_t end = offsets[1].get<uint64_t>();
  if (end < begin) fail_format("tensor '{}': data_offsets [{}, {}] end before they begin", name, begin, end);
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(n_elems, *elem_size, &nbytes))
    fail_format("tensor '{}': byte size of shape {} × {} overflows", name, shape.dump(), t.dtype);
  if (nbytes != end - begin)
    fail_format("tensor '{}': data_offsets [{}, {}] hold {} bytes, shape {} of {} needs {}", name,
                begin, end, end - begin, shape.dump(), t.dtype, nbytes);
  t.nbytes = nbytes;
  return {begin, std::move(t)};
}

void SafetensorsFile::Impl::parse() {
  const uint64_t size = file->size();
  if (size < 8) fail_format("file of {} bytes is too short for the 8-byte header length", size);
  uint64_t header_len = 0;
  std::memcpy(&header_len, file->data(), 8);
  if (header_len > kMaxHeaderBytes)
    fail_format("header length {} exceeds the limit of {} bytes", header_len, kMaxHeaderBytes);
  if (header_len > size - 8)
    fail_format("header length {} runs past the end of the file ({} bytes)", header_len, size);
  const std::string_view text(reinterpret_cast<const char*>(file->data() + 8),
                              static_cast<size_t>(header_len));
  std::vector<std::pair<uint64_t, SafetensorsTensor>> entries;  // (BEGIN, tensor)
  JsonBounds bounds;
  bounds.max_members = kMaxTensors + 1;  // and __metadata__
  bounds.max_values_of = [](const std::string& name) {
    return name == "__metadata__" ? kMaxMetadataEntries + 1 : kMaxEntryValues;  // + the object itself
  };
  bounds.take_member = [&](const std::string& name, const json& entry) {
    if (name == "__metadata__") {
      read_metadata(entry);
      return;
    }
    if (entries.size() == kMaxTensors) fail_format("header lists more than {} tensors, the limit", kMaxTensors);
    entries.push_back(read_entry(name, entry));
  };
  const json header = parse_strict_json(text, path(), "header", bounds);
  if (!header.is_object()) fail_format("header is a JSON {}, expected an object", header.type_name());
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first, a.second.nbytes, a.second.name) < std::tie(b.first, b.second.nbytes, b.second.name);
  });
  const uint64_t buffer_start = 8 + header_len;
  const uint64_t buffer_size = size - buffer_start;
  uint64_t expected_begin = 0;
  const SafetensorsTensor* previous = nullptr;
  tensors.reserve(entries.size());
  for (auto& [begin, t] : entries) {
    const std::string after = previous ? fmt::format("tensor '{}'", previous->name)
                                       : std::string("the start of the data");
    if (begin < expected_begin)
      fail_format("tensor '{}' at data_offsets [{}, {}] overlaps {}, which ends at {}", t.name,
                  begin, begin + t.nbytes, after, expected_begin);
    if (begin > expected_begin)
      fail_format("tensor '{}' at data_offsets [{}, {}] leaves a hole of {} bytes after {}",
                  t.name, begin, begin + t.nbytes, begin - expected_begin, after);
    expected_begin = begin + t.nbytes;  // = END from the header, so no overflow
    if (expected_begin > buffer_size)
      fail_format("tensor '{}' ends at byte {} of the data, past its end ({} bytes)", t.name,
                  expected_begin, buffer_size);
    t.data = file->data() + buffer_start + begin;
    tensors.push_back(std::move(t));
    previous = &tensors.back();
  }
  if (expected_begin != buffer_size)
    fail_format("tensor data ends at byte {} but the file holds {} bytes of data", expected_begin,
                buffer_size);
  for (size_t i = 0; i < tensors.size(); ++i) index.emplace(tensors[i].name, i);
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto impl = std::make_shared<Impl>();
  impl->file = MappedFile::open(path);
  impl->parse();
  return SafetensorsFile(std::move(impl));
}

const std::vector<SafetensorsTensor>& SafetensorsFile::tensors() const { return impl_->tensors; }
const SafetensorsTensor* SafetensorsFile::find(const std::string& name) const {
  const auto it = impl_->index.find(name);
  return it == impl_->index.end() ? nullptr : &impl_->tensors[it->second];
}
const std::map<std::string, std::string>& SafetensorsFile::metadata() const { return impl_->metadata; }
std::shared_ptr<const MappedFile> SafetensorsFile::mapping() const { return impl_->file; }

struct SafetensorsCheckpoint::Impl {
  std::vector<SafetensorsFile> shards;
  std::map<std::string, const SafetensorsTensor*> tensors;

  void add_all(const SafetensorsFile& file) {
    shards.push_back(file);
    for (const SafetensorsTensor& t : file.tensors()) tensors.emplace(t.name, &t);
  }
  void open_index(const std::string& dir, const std::string& index_path);
};

void SafetensorsCheckpoint::Impl::open_index(const std::string& dir, const std::string& index_path) {
  const std::shared_ptr<const MappedFile> index_file = MappedFile::open(index_path);
  if (index_file->size() > kMaxHeaderBytes)
    fail(ErrorCode::InvalidFormat, "{}: {} bytes exceeds the limit of {} bytes", index_path,
         index_file->size(), kMaxHeaderBytes);
  const json index = parse_strict_json(
      std::string_view(reinterpret_cast<const char*>(index_file->data()),
                       static_cast<size_t>(index_file->size())),
      index_path, "index", JsonBounds{1024, nullptr, [](const std::string&) { return kMaxIndexValues; }});
  if (!index.is_object() || !index.contains("weight_map"))
    fail(ErrorCode::InvalidFormat, "{}: missing \"weight_map\"", index_path);
  const json& weight_map = index["weight_map"];
  if (!weight_map.is_object())
    fail(ErrorCode::InvalidFormat, "{}: weight_map is a JSON {}, expected an object", index_path,
         weight_map.type_name());
  std::map<std::string, size_t> shard_of_name;  // shard file name → index in shards
  for (const auto& [name, shard] : weight_map.items()) {
    if (!shard.is_string())
      fail(ErrorCode::InvalidFormat, "{}: weight_map['{}'] is a JSON {}, expected a file name",
           index_path, name, shard.type_name());
    const std::string shard_name = shard.get<std::string>();
    if (shard_name.empty() || shard_name == "." || shard_name == ".." ||
        shard_name.find_first_of(std::string("/\\\0", 3)) != std::string::npos)
      fail(ErrorCode::InvalidFormat, "{}: weight_map['{}'] = '{}' is not a plain file name",
           index_path, name, shard_name);
    auto it = shard_of_name.find(shard_name);
    if (it == shard_of_name.end()) {
      const std::string shard_path = dir + "/" + shard_name;
      if (!is_regular_file(shard_path))
        fail(ErrorCode::InvalidFormat, "{}: shard '{}' (listed for tensor '{}') does not exist or is not a file",
             index_path, shard_path, name);
      shards.push_back(SafetensorsFile::open(shard_path));
      it = shard_of_name.emplace(shard_name, shards.size() - 1).first;
    }
    const SafetensorsTensor* t = shards[it->second].find(name);
    if (!t)
      fail(ErrorCode::InvalidFormat, "{}: tensor '{}' is listed for shard '{}', which does not hold it",
           index_path, name, shard_name);
    tensors.emplace(name, t);
  }
}

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& dir) {
  auto impl = std::make_shared<Impl>();
  const std::string index_path = dir + "/" + kIndexName;
  const std::string single_path = dir + "/" + kSingleName;
  if (is_regular_file(dir)) {
    impl->add_all(SafetensorsFile::open(dir));
  } else if (file_exists(index_path)) {
    require_regular_file(index_path);
    impl->open_index(dir, index_path);
  } else if (file_exists(single_path)) {
    require_regular_file(single_path);
    impl->add_all(SafetensorsFile::open(single_path));
  } else {
    fail(ErrorCode::Io, "{}: holds neither {} nor {}", dir, kIndexName, kSingleName);
  }
  return SafetensorsCheckpoint(std::move(impl));
}

const SafetensorsTensor* SafetensorsCheckpoint::find(const std::string& name) const {
  const auto it = impl_->tensors.find(name);
  return it == impl_->tensors.end() ? nullptr : it->second;
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  out.reserve(impl_->tensors.size());
  for (const auto& [name, tensor] : impl_->tensors) out.push_back(name);
  return out;
}

}  // namespace ophtha
