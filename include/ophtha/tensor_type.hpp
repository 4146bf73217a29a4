// Element types of weight tensors, numbered as ggml numbers them (GGUF's ggml_type),
// with their block layout: quantised types store `block_elems` values in `block_bytes`.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "ophtha/export.h"

namespace ophtha {

enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,   // block of 32: f16 scale d, 16 bytes of nibbles; x = (q - 8) * d
  Q8_0 = 8,   // block of 32: f16 scale d, 32 int8; x = q * d
  BF16 = 30,
};

struct TensorTypeInfo {
  std::string_view name;
  int64_t block_elems;
  int64_t block_bytes;
};

OPHTHA_API const TensorTypeInfo& tensor_type_info(TensorType type);

// The TensorType for a ggml_type id, or nullopt for ids Ophtha does not read.
OPHTHA_API std::optional<TensorType> tensor_type_from_ggml(uint32_t ggml_type);

// Bytes of `n_elems` values of `type`, or nullopt when n_elems is not a whole number
// of blocks or the product overflows.
OPHTHA_API std::optional<uint64_t> tensor_bytes(TensorType type, uint64_t n_elems);

}  // namespace ophtha
