// NumPy .npy files (format versions 1.0, 2.0 and 3.0): float32 and uint8 arrays in C order.
// Used to hand preprocessed image tensors to and from Python (numpy.load / numpy.save).
//
// Ownership: NpyArray owns its values. Thread safety: free functions, no shared state.
// Errors: read_npy throws Error(Io) when the file cannot be read; read_npy and parse_npy throw
// Error(InvalidFormat) for a bad magic, a truncated or malformed header, a negative or overflowing
// shape, or a data size that differs from the shape's, and Error(Unsupported) for another dtype
// (anything but '<f4' and '|u1'), big-endian data or fortran_order; each message names the
// source and the field. write_npy throws Error(InvalidArgument) for a negative dimension and
// Error(Io) when the file cannot be written (the target is replaced atomically).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ophtha/export.h"

namespace ophtha {

enum class NpyDtype {
  Float32,  // '<f4'
  UInt8,    // '|u1'
};

struct NpyArray {
  NpyDtype dtype = NpyDtype::Float32;
  std::vector<int64_t> shape;  // empty for a 0-d array (one element)
  std::vector<float> f32;      // the values in C order when dtype == Float32
  std::vector<uint8_t> u8;     // the values in C order when dtype == UInt8

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

OPHTHA_API NpyArray read_npy(const std::string& path);
// `source_name` names the bytes in error messages.
OPHTHA_API NpyArray parse_npy(const void* bytes, size_t size, const std::string& source_name);

// Writes numel(shape) values from `values` (C order) as format version 1.0.
OPHTHA_API void write_npy(const std::string& path, const float* values, const std::vector<int64_t>& shape);
OPHTHA_API void write_npy(const std::string& path, const uint8_t* values, const std::vector<int64_t>& shape);
// The bytes write_npy would write.
OPHTHA_API std::vector<uint8_t> serialize_npy(NpyDtype dtype, const void* values, const std::vector<int64_t>& shape);

}  // namespace ophtha
