// Comparing LibTorch tensors with references written by Python scripts (.npy files): the relative
// error max |got − expected| / max |expected|, reported with the worst element. Include after
// support/doctest_with_aten.hpp.
#pragma once
#include <string>

#include <ATen/ATen.h>

#include "ophtha/npy.hpp"

namespace ophtha::test {

// A float32 .npy file as a tensor (read with the library's own reader, itself tested against numpy).
inline at::Tensor load_npy_tensor(const std::string& path) {
  NpyArray array = read_npy(path);
  REQUIRE_MESSAGE(array.dtype == NpyDtype::Float32, path, " is not float32");
  return at::from_blob(array.f32.data(), array.shape, at::kFloat).clone();
}

inline void check_close(const at::Tensor& got, const at::Tensor& expected, const std::string& what, double tolerance) {
  INFO(what, ": got shape ", got.sizes(), ", expected ", expected.sizes());
  REQUIRE(got.sizes() == expected.sizes());
  const double scale = expected.abs().max().item<double>();
  REQUIRE(scale > 0);
  const at::Tensor diff = (got - expected).abs();
  const int64_t worst = diff.flatten().argmax().item<int64_t>();
  const double relative = diff.max().item<double>() / scale;
  INFO(what, ": max |diff| / max |ref| = ", relative, " (tolerance ", tolerance, ") at flat index ", worst,
       ": got ", got.flatten()[worst].item<float>(), ", reference ", expected.flatten()[worst].item<float>());
  CHECK(relative <= tolerance);
}

}  // namespace ophtha::test
