// Hugging Face safetensors (huggingface/safetensors): a reader that maps a file and validates it as
// the reference implementation does, a reader of checkpoint folders (one file, or shards listed by
// model.safetensors.index.json), and an atomic writer.
//
// Layout: u64 N (little-endian) | N bytes of UTF-8 JSON | byte buffer. The JSON maps each tensor name
// to {"dtype": "F16", "shape": [..], "data_offsets": [BEGIN, END]} (offsets into the byte buffer, END
// exclusive) and may hold "__metadata__": {string: string}.
//
// What SafetensorsFile::open() rejects, each with Error(InvalidFormat) naming the file and the tensor
// or field and what was expected:
//   - a file shorter than 8 bytes; N > 100,000,000; 8 + N past the end of the file;
//   - a header that is not valid UTF-8 JSON, is not an object, nests more than 8 deep, or repeats a
//     key in any object (so duplicate tensor names);
//   - limits of Ophtha's own, far above real checkpoints, that bound the memory a valid but hostile
//     header can cost (a parsed JSON document takes ~25× its text): more than 262,144 tensors; a
//     tensor entry of more than 64 JSON values; a shape of more than 16 dimensions; "__metadata__"
//     of more than 65,536 entries. Each entry is checked and dropped as soon as it is parsed, so
//     the reader holds about 0.5 KB per tensor plus the names, never the whole JSON document;
//   - a tensor entry that is not an object with "dtype" (a known name), "shape" (non-negative
//     integers) and "data_offsets" (two non-negative integers); "__metadata__" that is not an object
//     of strings;
//   - data_offsets that, sorted, do not start at 0 and follow one another without holes or overlap;
//     END - BEGIN != ∏shape × dtype size (the multiplication checked for overflow); a last END that
//     is not the end of the file.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ophtha/export.h"
#include "ophtha/mapped_file.hpp"

namespace ophtha {

// Bytes per element of a safetensors dtype name: BOOL, U8, I8, F8_E5M2, F8_E4M3 (1), I16, U16,
// F16, BF16 (2), I32, U32, F32 (4), F64, I64, U64 (8); nullopt for any other name.
OPHTHA_API std::optional<uint64_t> safetensors_dtype_size(std::string_view dtype);

struct SafetensorsTensor {
  std::string name;
  std::string dtype;           // "F32", "F16", "BF16", ... as in the header
  std::vector<int64_t> shape;  // PyTorch order (shape[last] varies fastest); empty for a scalar
  const uint8_t* data;         // into the mapping; valid while the SafetensorsFile (or a copy) lives
  uint64_t nbytes;
  std::string file;            // path of the file that holds it
};

// An open, validated safetensors file.
// Ownership: mapped, not read; copies are cheap, share state, and keep the mapping alive.
// Thread safety: immutable after open(); any number of threads may call the const methods at once.
class OPHTHA_API SafetensorsFile {
 public:
  // Maps and validates `path` (see above). Error(Io) when it cannot be mapped.
  static SafetensorsFile open(const std::string& path);

  const std::vector<SafetensorsTensor>& tensors() const;  // sorted by data offset
  const SafetensorsTensor* find(const std::string& name) const;  // nullptr when absent
  const std::map<std::string, std::string>& metadata() const;    // "__metadata__", or empty
  std::shared_ptr<const MappedFile> mapping() const;

  struct Impl;

 private:
  explicit SafetensorsFile(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// A Hugging Face checkpoint folder: either model.safetensors.index.json, whose "weight_map" maps
// each tensor name to the shard file (in the same folder) that holds it, or a single
// model.safetensors. The index wins when both exist; tensors a shard holds but the weight_map does
// not list are not visible. `dir` may also name a .safetensors file, read as a one-file checkpoint.
// Ownership, thread safety: as SafetensorsFile; copies share the open shards.
// Errors: Error(Io) when the folder holds neither file or a file cannot be mapped;
// Error(InvalidFormat) for an index that is not a JSON object with a "weight_map" object of strings,
// an index over 100,000,000 bytes or of more than 266,240 JSON values (about 262,144 tensors),
// a shard name that is not a plain file name, a shard file that is missing or not a regular file
// (named), a tensor the weight_map lists for a shard that does not hold it, and anything
// SafetensorsFile::open rejects.
class OPHTHA_API SafetensorsCheckpoint {
 public:
  static SafetensorsCheckpoint open(const std::string& dir);

  const SafetensorsTensor* find(const std::string& name) const;  // nullptr when absent
  std::vector<std::string> names() const;                        // sorted

  struct Impl;

 private:
  explicit SafetensorsCheckpoint(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// One tensor to write: `bytes` must hold exactly ∏shape × dtype size bytes, little-endian, C order.
struct SafetensorsTensorData {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// Writes a safetensors file atomically (AtomicFileWriter), laid out as the reference writer does:
// tensors sorted by descending dtype size, then by name; the JSON header padded with spaces to a
// multiple of 8 bytes, so every tensor is naturally aligned in a mapping.
// Errors: Error(InvalidArgument) naming the tensor for an unknown dtype, a negative dimension, a
// byte count that does not match the shape, a repeated name, the name "__metadata__", or a name
// that is not valid UTF-8; naming the entry for metadata that is not valid UTF-8; Error(Io) when
// writing fails.
OPHTHA_API void write_safetensors(const std::string& path,
                                  const std::vector<SafetensorsTensorData>& tensors,
                                  const std::map<std::string, std::string>& metadata = {});

}  // namespace ophtha
