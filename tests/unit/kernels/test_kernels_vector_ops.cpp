// Per-token vector helpers against double-precision references.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ophtha/kernels.hpp"

using namespace ophtha::kernels;

namespace {

std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 2.f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(rng);
  return v;
}

}  // namespace

TEST_CASE("rmsnorm scales by the inverse root mean square and the weight") {
  for (int64_t n : {1, 7, 8, 64, 2051}) {
    const std::vector<float> x = random_floats(n, 1), weight = random_floats(n, 2);
    std::vector<float> out(static_cast<size_t>(n));
    const float eps = 1e-5f;
    rmsnorm(out.data(), x.data(), weight.data(), n, eps);
    double sum = 0.0;
    for (float v : x) sum += static_cast<double>(v) * v;
    const double scale = 1.0 / std::sqrt(sum / static_cast<double>(n) + eps);
    for (int64_t i = 0; i < n; ++i) {
      // mean, sqrt, reciprocal and two products, each rounded once in f32: allow 4 ulp.
      const double expected = x[i] * scale * weight[i];
      CHECK_MESSAGE(std::fabs(out[i] - expected) <= 4 * std::ldexp(std::fabs(expected), -23) + 1e-30, "n ", n,
                    " element ", i, ": ", out[i], " vs ", expected);
    }
  }
}

TEST_CASE("rmsnorm may write over its input") {
  std::vector<float> x = random_floats(100, 3), copy = x;
  const std::vector<float> weight(100, 1.5f);
  std::vector<float> expected(100);
  rmsnorm(expected.data(), copy.data(), weight.data(), 100, 1e-6f);
  rmsnorm(x.data(), x.data(), weight.data(), 100, 1e-6f);
  CHECK(x == expected);
}

TEST_CASE("dot_f32 and axpy agree with double-precision loops") {
  for (int64_t n : {0, 1, 15, 16, 17, 1000}) {
    const std::vector<float> a = random_floats(n, 4), b = random_floats(n, 5);
    double exact = 0.0, magnitude = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      exact += static_cast<double>(a[i]) * b[i];
      magnitude += std::fabs(static_cast<double>(a[i]) * b[i]);
    }
    // 16 FMA lanes plus a pairwise reduction: at most n / 16 + 5 roundings per product.
    CHECK(std::fabs(dot_f32(a.data(), b.data(), n) - exact) <= (n / 16.0 + 5) * std::ldexp(magnitude, -24));

    std::vector<float> y = b;
    axpy(0.75f, a.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      // one product and one sum, each rounded at most once (fused with FMA)
      const double expected = 0.75 * a[i] + b[i];
      CHECK(std::fabs(y[i] - expected) <= std::ldexp(std::fabs(0.75 * a[i]) + std::fabs(b[i]), -23));
    }
  }
}

TEST_CASE("dot_rows scores a query against strided cache rows, identically however the rows are split") {
  for (int64_t len : {64, 24, 7}) {
    const int64_t stride = len * 3 + 5, n = 37;
    const std::vector<float> q = random_floats(len, 6), rows = random_floats(n * stride, 7);
    std::vector<float> whole(static_cast<size_t>(n)), split(static_cast<size_t>(n));
    dot_rows(q.data(), rows.data() + 2, stride, n, len, 0.125f, whole.data());
    for (int64_t j = 0; j < n; ++j) {
      double exact = 0.0, magnitude = 0.0;
      for (int64_t d = 0; d < len; ++d) {
        exact += static_cast<double>(q[d]) * rows[j * stride + 2 + d];
        magnitude += std::fabs(static_cast<double>(q[d]) * rows[j * stride + 2 + d]);
      }
      // 8 lanes of len / 8 FMAs, a 3-level reduction, the scale: at most len / 8 + 4 roundings.
      CHECK_MESSAGE(std::fabs(whole[j] - 0.125 * exact) <= (len / 8.0 + 4) * std::ldexp(0.125 * magnitude, -24),
                    "len ", len, " key ", j);
    }
    // Keys 0..10 and 11..36 in two calls (neither a multiple of 8): bit-identical to one call.
    dot_rows(q.data(), rows.data() + 2, stride, 11, len, 0.125f, split.data());
    dot_rows(q.data(), rows.data() + 2 + 11 * stride, stride, n - 11, len, 0.125f, split.data() + 11);
    CHECK(split == whole);
  }
}

TEST_CASE("weighted_rows_sum adds the weighted value rows in order, identically however they are split") {
  for (int64_t len : {128, 72, 5}) {
    const int64_t stride = len + 9, n = 29;
    const std::vector<float> w = random_floats(n, 8), rows = random_floats(n * stride, 9), start = random_floats(len, 10);
    std::vector<float> whole = start, split = start;
    weighted_rows_sum(w.data(), rows.data(), stride, n, len, whole.data());
    for (int64_t d = 0; d < len; ++d) {
      double exact = start[d], magnitude = std::fabs(start[d]);
      for (int64_t j = 0; j < n; ++j) {
        exact += static_cast<double>(w[j]) * rows[j * stride + d];
        magnitude += std::fabs(static_cast<double>(w[j]) * rows[j * stride + d]);
      }
      CHECK_MESSAGE(std::fabs(whole[d] - exact) <= n * std::ldexp(magnitude, -24), "len ", len, " element ", d);
    }
    weighted_rows_sum(w.data(), rows.data(), stride, 13, len, split.data());
    weighted_rows_sum(w.data() + 13, rows.data() + 13 * stride, stride, n - 13, len, split.data());
    CHECK(split == whole);
  }
}
