#include <doctest/doctest.h>

#include "ophtha/tensor_type.hpp"

using namespace ophtha;

TEST_CASE("tensor_bytes counts whole quant blocks and rejects partial ones") {
  CHECK(tensor_bytes(TensorType::Q8_0, 64).value() == 68);
  CHECK(tensor_bytes(TensorType::Q4_0, 32).value() == 18);
  CHECK(tensor_bytes(TensorType::F16, 3).value() == 6);
  CHECK_FALSE(tensor_bytes(TensorType::Q8_0, 33).has_value());
  CHECK_FALSE(tensor_bytes(TensorType::F32, UINT64_MAX / 2).has_value());
}

TEST_CASE("ggml type ids map to Ophtha types and unknown ids are refused") {
  CHECK(tensor_type_from_ggml(8) == TensorType::Q8_0);
  CHECK(tensor_type_from_ggml(30) == TensorType::BF16);
  CHECK_FALSE(tensor_type_from_ggml(3).has_value());  // Q4_1 is not read
}
