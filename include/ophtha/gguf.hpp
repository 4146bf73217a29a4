// GGUF (versions 2 and 3, little-endian) as ggml-org/ggml docs/gguf.md defines it: a reader that
// maps the file and validates all of it up front, and a writer of version-3 files.
//
// Layout: "GGUF" | u32 version | u64 tensor_count | u64 kv_count | kv_count × (string key, u32 type,
// value) | tensor_count × (string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset) |
// zero padding to the alignment | tensor data. A string is u64 length + bytes; an array is u32
// element type + u64 count + elements.
//
// What GgufFile::open() rejects, each with Error(InvalidFormat) naming the file and the key or tensor
// and what was expected, before it allocates anything whose size the file chose:
//   - a magic other than "GGUF"; a version other than 2 or 3 (a byte-swapped version is reported as
//     a big-endian file, which is not read);
//   - a file that ends inside any field;
//   - a string length, array count, kv count or tensor count larger than the remaining bytes could
//     hold; a key longer than 65535 bytes; a tensor name longer than 64 bytes;
//   - an unknown value type; arrays nested more than 4 deep; a BOOL byte other than 0 or 1;
//   - a duplicate key or tensor name;
//   - n_dims outside 1..4; a zero dimension; an element count over INT64_MAX; ne[0] not a whole
//     number of quant blocks;
//   - a ggml type id that ggml does not define (the error names the id); a type ggml defines but
//     Ophtha does not read throws Error(Unsupported) naming the type instead;
//   - general.alignment that is not an integer or not a power of two ≥ 8. ggml accepts any power of
//     two; GGUF asks for a multiple of 8 and Ophtha needs it, so 1, 2 and 4 are refused;
//   - a tensor offset that is not a multiple of the alignment, tensor data that runs past the end of
//     the file (all additions checked), or two tensors whose data overlap.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ophtha/export.h"
#include "ophtha/mapped_file.hpp"
#include "ophtha/tensor_type.hpp"

namespace ophtha {

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9,
  U64 = 10, I64 = 11, F64 = 12,
};

// "U8", "STRING", ... for messages; "type N" for a value outside the enum.
OPHTHA_API std::string gguf_type_name(GgufType type);

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> ne;  // (n_dims) ggml order: ne[0] is the row length (fastest varying)
  TensorType type;
  uint64_t offset;           // as in the file: bytes from the start of the tensor-data section
  const uint8_t* data;       // into the mapping; valid while any copy of the GgufFile lives
  uint64_t nbytes;
};

// An open, validated GGUF file.
// Ownership: the file is mapped, not read; tensor data pointers point into the mapping, which every
// copy of the GgufFile (and every holder of mapping()) keeps alive. Copies are cheap and share state.
// Thread safety: immutable after open(); any number of threads may call the const methods at once.
// Errors: getters throw Error(InvalidFormat) naming the file, the key, the type found and the type
// expected; get_* also throw it ("missing key") when the key is absent, where find_* return nullopt.
class OPHTHA_API GgufFile {
 public:
  // Maps `path` and validates everything (see above). Error(Io) when it cannot be mapped.
  static GgufFile open(const std::string& path);

  uint32_t version() const;
  const std::string& path() const;
  std::shared_ptr<const MappedFile> mapping() const;
  uint64_t alignment() const;  // general.alignment, or 32 when absent

  bool has(const std::string& key) const;
  GgufType type_of(const std::string& key) const;  // throws "missing key" when absent
  std::vector<std::string> keys() const;           // in file order
  // Element type of an ARRAY value; throws when the key is absent or not an array.
  GgufType array_type_of(const std::string& key) const;

  // Any integer type (U8..I64); a negative value throws.
  uint64_t get_uint(const std::string& key) const;
  std::optional<uint64_t> find_uint(const std::string& key) const;
  // F32 or F64.
  double get_float(const std::string& key) const;
  std::optional<double> find_float(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  std::optional<std::string> find_string(const std::string& key) const;
  std::optional<bool> find_bool(const std::string& key) const;
  // Arrays, element-wise: STRING; F32 or F64 (F64 rounded to float); any integer type, each element
  // range-checked into int32 (the error names the index).
  std::vector<std::string> get_string_array(const std::string& key) const;
  std::vector<float> get_float_array(const std::string& key) const;
  std::vector<int32_t> get_int_array(const std::string& key) const;

  const std::vector<GgufTensorInfo>& tensors() const;       // in file order
  const GgufTensorInfo* find_tensor(const std::string& name) const;  // nullptr when absent

  struct Impl;

 private:
  explicit GgufFile(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// Builds a GGUF version-3 file in memory and writes it atomically (AtomicFileWriter).
// Keys keep the order they were first set in; setting a key again replaces its value in place.
// Tensor data is laid out in add order, each tensor padded to the alignment: general.alignment when
// it was set (any integer type; must be a power of two ≥ 8), else 32.
// Thread safety: one writer belongs to one thread at a time.
// Errors: Error(InvalidArgument) for a key longer than 65535 bytes, a tensor name longer than 64
// bytes or used twice, n_dims outside 1..4, a zero dimension, a byte count that does not match the
// shape and type, or a bad general.alignment; Error(Io) from write().
class OPHTHA_API GgufWriter {
 public:
  void set_uint8(const std::string& key, uint8_t value);
  void set_int8(const std::string& key, int8_t value);
  void set_uint16(const std::string& key, uint16_t value);
  void set_int16(const std::string& key, int16_t value);
  void set_uint32(const std::string& key, uint32_t value);
  void set_int32(const std::string& key, int32_t value);
  void set_uint64(const std::string& key, uint64_t value);
  void set_int64(const std::string& key, int64_t value);
  void set_float32(const std::string& key, float value);
  void set_float64(const std::string& key, double value);
  void set_bool(const std::string& key, bool value);
  void set_string(const std::string& key, const std::string& value);
  // T is one of uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, uint64_t, int64_t, float,
  // double, bool, std::string; the element type follows from T.
  template <typename T>
  void set_array(const std::string& key, const std::vector<T>& values);

  // `ne` in ggml order (ne[0] = row length); `bytes` must be exactly tensor_bytes(type, ∏ne).
  void add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> ne,
                  std::vector<uint8_t> bytes);

  void write(const std::string& path) const;

 private:
  struct Entry {
    std::string key;
    GgufType type;
    std::vector<uint8_t> payload;  // the encoded value, after the u32 type
  };
  struct Tensor {
    std::string name;
    TensorType type;
    std::vector<uint64_t> ne;
    std::vector<uint8_t> bytes;
  };
  void set_value(const std::string& key, GgufType type, std::vector<uint8_t> payload);
  uint64_t alignment() const;
  std::vector<Entry> entries_;
  std::vector<Tensor> tensors_;
};

}  // namespace ophtha
