#include "ophtha/tensor_type.hpp"

#include <limits>

namespace ophtha {

const TensorTypeInfo& tensor_type_info(TensorType type) {
  static const TensorTypeInfo f32{"F32", 1, 4}, f16{"F16", 1, 2}, bf16{"BF16", 1, 2},
      q8_0{"Q8_0", 32, 34}, q4_0{"Q4_0", 32, 18};
  switch (type) {
    case TensorType::F32: return f32;
    case TensorType::F16: return f16;
    case TensorType::BF16: return bf16;
    case TensorType::Q8_0: return q8_0;
    case TensorType::Q4_0: return q4_0;
  }
  return f32;
}

std::optional<TensorType> tensor_type_from_ggml(uint32_t ggml_type) {
  switch (ggml_type) {
    case 0: return TensorType::F32;
    case 1: return TensorType::F16;
    case 2: return TensorType::Q4_0;
    case 8: return TensorType::Q8_0;
    case 30: return TensorType::BF16;
    default: return std::nullopt;
  }
}

std::optional<uint64_t> tensor_bytes(TensorType type, uint64_t n_elems) {
  const TensorTypeInfo& info = tensor_type_info(type);
  const auto block = static_cast<uint64_t>(info.block_elems);
  if (n_elems % block != 0) return std::nullopt;
  const uint64_t blocks = n_elems / block;
  if (blocks > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(info.block_bytes))
    return std::nullopt;
  return blocks * static_cast<uint64_t>(info.block_bytes);
}

}  // namespace ophtha
