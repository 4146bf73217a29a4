// Stored-weight kernels: matvec and matvec_multi against the scalar reference for every type
// and awkward shapes, their independence from the thread count, and dequantize_rows against
// its reference bit for bit; gemm (the prefill product) against the same reference.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels_internal.hpp"
#include "ophtha/error.hpp"
#include "ophtha/kernels.hpp"
#include "ophtha/thread_pool.hpp"

using namespace ophtha;
using namespace ophtha::kernels;

namespace {

const TensorType kAllTypes[] = {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0,
                                TensorType::Q4_0};

std::string type_name(TensorType type) { return std::string(tensor_type_info(type).name); }

bool is_quantized(TensorType type) { return type == TensorType::Q8_0 || type == TensorType::Q4_0; }

int64_t row_bytes(TensorType type, int64_t cols) {
  return static_cast<int64_t>(*tensor_bytes(type, static_cast<uint64_t>(cols)));
}

std::vector<float> random_floats(int64_t n, std::mt19937& rng, float scale = 1.f) {
  std::normal_distribution<float> normal(0.f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(rng);
  return v;
}

// A [rows, cols] matrix of `type` encoding random N(0, 1) values.
std::vector<uint8_t> random_matrix(TensorType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  const int64_t stride = row_bytes(type, cols);
  std::vector<uint8_t> out(static_cast<size_t>(rows * stride));
  for (int64_t r = 0; r < rows; ++r) {
    const std::vector<float> v = random_floats(cols, rng);
    uint8_t* row = out.data() + r * stride;
    for (int64_t j = 0; j < cols; ++j) {
      const float x = v[static_cast<size_t>(j)];
      if (type == TensorType::F32) std::memcpy(row + 4 * j, &x, 4);
      const uint16_t h = type == TensorType::F16 ? fp32_to_fp16(x) : fp32_to_bf16(x);
      if (type == TensorType::F16 || type == TensorType::BF16) std::memcpy(row + 2 * j, &h, 2);
    }
    if (type == TensorType::Q8_0) quantize_row_q8_0(v.data(), row, cols);
    if (type == TensorType::Q4_0) quantize_row_q4_0(v.data(), row, cols);
  }
  return out;
}

// x as the quantised kernels see it: quantised to Q8_0 and widened back.
std::vector<float> q8_round_trip(const std::vector<float>& x) {
  std::vector<uint8_t> q(static_cast<size_t>(row_bytes(TensorType::Q8_0, static_cast<int64_t>(x.size()))));
  quantize_row_q8_0(x.data(), q.data(), static_cast<int64_t>(x.size()));
  std::vector<float> back(x.size());
  dequantize_rows_reference(TensorType::Q8_0, q.data(), 0, 1, static_cast<int64_t>(x.size()), back.data());
  return back;
}

// Checks y against W · x row by row.
//
// Tolerance, per row, from first-order rounding-error bounds (u = 2^-24):
// - f32 accumulation: matvec keeps 16 lanes of FMA (8 per quantised block sum) and adds them
//   pairwise, so each product passes through at most cols / 8 + 8 roundings:
//   |error| <= (cols / 8 + 8) u sum |w_i x_i|, doubled here to cover the rounded block scale
//   products (d_w d_x) and |x'| exceeding |x| by up to half a quantum.
// - Q8_0/Q4_0 also quantise x: x' = q d' with q = roundf(x / d), d = max|x_b| / 127 and
//   d' = f16(d), so |x - x'| <= d / 2 (rounding to a quantum) + 127 |d - d'| (f16 scale,
//   <= 127 d 2^-11 = 0.062 d) + a few u: 0.57 d per element. Hence an extra
//   sum over blocks b of 0.57 d_b sum_{i in b} |w_i|.
// The reference (double sums of the same widened weights) is exact to well below both.
// `x_quantized`: whether the kernel rounds x through Q8_0 itself (matvec on Q8_0/Q4_0 does,
// gemm never does). `y` may be a row of a larger output with stride 1.
void check_against_reference(TensorType type, const std::vector<uint8_t>& W, int64_t rows, int64_t cols,
                             const std::vector<float>& x, const float* y, bool x_quantized = true) {
  std::vector<float> expected(static_cast<size_t>(rows)), w(static_cast<size_t>(cols));
  matvec_reference(type, W.data(), rows, cols, x.data(), expected.data());
  const double u = std::ldexp(1.0, -24);
  int failures = 0;
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_rows_reference(type, W.data(), r, 1, cols, w.data());
    double magnitude = 0.0, x_rounding = 0.0;
    for (int64_t j = 0; j < cols; ++j) magnitude += std::fabs(static_cast<double>(w[j]) * x[j]);
    if (x_quantized && is_quantized(type)) {
      for (int64_t b = 0; b < cols / 32; ++b) {
        double amax = 0.0, w_l1 = 0.0;
        for (int64_t j = b * 32; j < b * 32 + 32; ++j) {
          amax = std::max(amax, std::fabs(static_cast<double>(x[j])));
          w_l1 += std::fabs(static_cast<double>(w[j]));
        }
        x_rounding += 0.57 * amax / 127.0 * w_l1;
      }
    }
    const double tolerance = (static_cast<double>(cols) / 8 + 8) * u * 2 * magnitude + x_rounding;
    const double error = std::fabs(static_cast<double>(y[r]) - expected[r]);
    if (!(error <= tolerance) && ++failures <= 3)
      FAIL_CHECK(type_name(type), " [", rows, ", ", cols, "] row ", r, ": got ", y[r], ", expected ", expected[r],
                 " (error ", error, " > tolerance ", tolerance, ")");
  }
}

struct Shape {
  int64_t rows, cols;
};
// Odd row counts, counts that are not multiples of 4 or of 4 * threads, one-block rows,
// long rows; for float types also column counts that leave tails after 16 and 8 lanes.
const Shape kQuantShapes[] = {{1, 32}, {3, 64}, {5, 96}, {7, 4096}, {13, 2048}, {37, 160}, {64, 1024}, {131, 544}, {300, 256}};
const Shape kFloatOnlyShapes[] = {{9, 1}, {6, 7}, {11, 24}, {17, 45}, {2, 1000}};

}  // namespace

TEST_CASE("matvec matches the scalar reference for every type and awkward shapes") {
  std::mt19937 rng(1);
  ThreadPool pool(3);
  for (TensorType type : kAllTypes) {
    std::vector<Shape> shapes(std::begin(kQuantShapes), std::end(kQuantShapes));
    if (!is_quantized(type)) shapes.insert(shapes.end(), std::begin(kFloatOnlyShapes), std::end(kFloatOnlyShapes));
    for (const Shape& s : shapes) {
      CAPTURE(type_name(type));
      CAPTURE(s.rows);
      CAPTURE(s.cols);
      const std::vector<uint8_t> W = random_matrix(type, s.rows, s.cols, rng);
      const std::vector<float> x = random_floats(s.cols, rng);
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        std::vector<float> y(static_cast<size_t>(s.rows), NAN);
        matvec(type, W.data(), s.rows, s.cols, x.data(), y.data(), p);
        check_against_reference(type, W, s.rows, s.cols, x, y.data());
      }
    }
  }
}

TEST_CASE("quantised matvec equals the reference applied to x rounded through Q8_0") {
  // With x replaced by its Q8_0 round trip, only f32 accumulation error remains.
  std::mt19937 rng(2);
  for (TensorType type : {TensorType::Q8_0, TensorType::Q4_0}) {
    const int64_t rows = 29, cols = 2048;
    const std::vector<uint8_t> W = random_matrix(type, rows, cols, rng);
    const std::vector<float> x = random_floats(cols, rng, 3.f);
    std::vector<float> y(static_cast<size_t>(rows)), expected(static_cast<size_t>(rows));
    matvec(type, W.data(), rows, cols, x.data(), y.data(), nullptr);
    matvec_reference(type, W.data(), rows, cols, q8_round_trip(x).data(), expected.data());
    for (int64_t r = 0; r < rows; ++r)
      CHECK_MESSAGE(std::fabs(y[r] - expected[r]) <= 1e-4f * (1.f + std::fabs(expected[r])),
                    type_name(type), " row ", r, ": ", y[r], " vs ", expected[r]);
  }
}

TEST_CASE("matvec results do not depend on the thread count") {
  std::mt19937 rng(3);
  ThreadPool pools[] = {ThreadPool(1), ThreadPool(2), ThreadPool(3), ThreadPool(5)};
  for (TensorType type : kAllTypes) {
    const int64_t rows = 1003, cols = 544;  // 1003 rows: every split leaves odd spans and tails
    const std::vector<uint8_t> W = random_matrix(type, rows, cols, rng);
    const std::vector<float> x = random_floats(cols, rng);
    std::vector<float> single(static_cast<size_t>(rows));
    matvec(type, W.data(), rows, cols, x.data(), single.data(), nullptr);
    for (ThreadPool& pool : pools) {
      std::vector<float> y(static_cast<size_t>(rows));
      matvec(type, W.data(), rows, cols, x.data(), y.data(), &pool);
      CHECK_MESSAGE(std::memcmp(y.data(), single.data(), y.size() * sizeof(float)) == 0, type_name(type),
                    " with ", pool.size(), " threads differs from one thread");
    }
  }
}

TEST_CASE("matvec_multi equals separate matvecs over mixed types") {
  std::mt19937 rng(4);
  ThreadPool pool(2);
  const int64_t cols = 256;
  const Shape shapes[] = {{640, cols}, {97, cols}, {1, cols}, {250, cols}};
  const TensorType types[] = {TensorType::Q8_0, TensorType::F16, TensorType::Q4_0, TensorType::F32};
  std::vector<std::vector<uint8_t>> weights;
  std::vector<std::vector<float>> ys, separate;
  std::vector<MatvecJob> jobs;
  const std::vector<float> x = random_floats(cols, rng);
  for (int i = 0; i < 4; ++i) {
    weights.push_back(random_matrix(types[i], shapes[i].rows, cols, rng));
    ys.emplace_back(static_cast<size_t>(shapes[i].rows), NAN);
    separate.emplace_back(static_cast<size_t>(shapes[i].rows));
    matvec(types[i], weights[i].data(), shapes[i].rows, cols, x.data(), separate[i].data(), nullptr);
  }
  for (int i = 0; i < 4; ++i) jobs.push_back({types[i], weights[i].data(), shapes[i].rows, ys[i].data()});
  matvec_multi(jobs.data(), 4, cols, x.data(), &pool);
  for (int i = 0; i < 4; ++i)
    CHECK_MESSAGE(std::memcmp(ys[i].data(), separate[i].data(), ys[i].size() * sizeof(float)) == 0, "job ", i,
                  " (", type_name(types[i]), ") differs from its own matvec");
}

TEST_CASE("matvec with zero columns gives zeros, and refuses partial quant blocks") {
  std::vector<float> y(5, NAN);
  const float x = 1.f;
  matvec(TensorType::F32, nullptr, 5, 0, &x, y.data(), nullptr);
  for (float v : y) CHECK(v == 0.f);
  std::vector<uint8_t> W(64 * 34);
  std::vector<float> xs(48);
  CHECK_THROWS_AS(matvec(TensorType::Q8_0, W.data(), 2, 48, xs.data(), y.data(), nullptr), Error);
  CHECK_THROWS_AS(matvec(TensorType::F32, W.data(), -1, 8, xs.data(), y.data(), nullptr), Error);
}

TEST_CASE("dequantize_rows gives the reference's bits for every type") {
  std::mt19937 rng(5);
  ThreadPool pool(2);
  for (TensorType type : kAllTypes) {
    const int64_t rows = 300, cols = is_quantized(type) ? 288 : 301;  // 301: tails after 8 lanes
    const std::vector<uint8_t> W = random_matrix(type, rows, cols, rng);
    for (const Shape& range : {Shape{0, rows}, Shape{7, 1}, Shape{123, 177}}) {  // {row0, count}
      std::vector<float> fast(static_cast<size_t>(range.cols * cols)), slow(fast.size());
      dequantize_rows(type, W.data(), range.rows, range.cols, cols, fast.data(), &pool);
      dequantize_rows_reference(type, W.data(), range.rows, range.cols, cols, slow.data());
      CHECK_MESSAGE(std::memcmp(fast.data(), slow.data(), fast.size() * sizeof(float)) == 0, type_name(type),
                    " rows [", range.rows, ", ", range.rows + range.cols, ")");
    }
  }
}

TEST_CASE("dequantize_rows_reference decodes ggml blocks as documented") {
  // Q8_0: x = q * d. Q4_0: x[j] = (low nibble of byte j - 8) * d, x[j + 16] from the high nibble.
  BlockQ8_0 q8{};
  q8.d = fp32_to_fp16(0.5f);
  q8.qs[0] = -128;
  q8.qs[31] = 127;
  BlockQ4_0 q4{};
  q4.d = fp32_to_fp16(-2.0f);
  q4.qs[0] = 0xF0;  // low nibble 0 -> -8, high nibble 15 -> 7
  q4.qs[15] = 0x8A;                  // x[15]: 10 - 8 = 2; x[31]: 8 - 8 = 0
  float out[32];
  dequantize_rows_reference(TensorType::Q8_0, &q8, 0, 1, 32, out);
  CHECK(out[0] == -64.f);
  CHECK(out[31] == 63.5f);
  CHECK(out[1] == 0.f);
  dequantize_rows_reference(TensorType::Q4_0, &q4, 0, 1, 32, out);
  CHECK(out[0] == 16.f);
  CHECK(out[16] == -14.f);
  CHECK(out[15] == -4.f);
  CHECK(out[31] == 0.f);
  CHECK(out[1] == 16.f);
}

TEST_CASE("gemm equals the reference product for every token, type and awkward shape") {
  // {rows, cols}: partial panels of 32 rows (both paths), several 256-column blocks and a short last one.
  std::mt19937 rng(7);
  ThreadPool pool(3);
  const Shape shapes[] = {{1, 32}, {5, 64}, {6, 512}, {13, 544}, {37, 1056}, {131, 96}, {64, 2080}};
  for (TensorType type : kAllTypes) {
    for (const Shape& s : shapes) {
      const std::vector<uint8_t> W = random_matrix(type, s.rows, s.cols, rng);
      for (int64_t tokens : {1, 3, 4, 9, 12, 29}) {  // 12: a full register tile; 29: two and a part
        const std::vector<float> X = random_floats(tokens * s.cols, rng);
        std::vector<float> Y(static_cast<size_t>(tokens * s.rows), NAN);
        if (!gemm_supported(type, s.cols)) {
          CHECK_FALSE(gemm(type, W.data(), s.rows, s.cols, X.data(), tokens, Y.data(), &pool));
          CHECK(std::isnan(Y[0]));
          continue;
        }
        INFO(type_name(type), " [", s.rows, ", ", s.cols, "] × ", tokens, " tokens");
        REQUIRE(gemm(type, W.data(), s.rows, s.cols, X.data(), tokens, Y.data(), &pool));
        for (int64_t t = 0; t < tokens; ++t) {
          // Quantised rows see x through Q8_0, as with matvec; then only summation order differs.
          std::vector<float> x(X.begin() + t * s.cols, X.begin() + (t + 1) * s.cols);
          if (is_quantized(type)) x = q8_round_trip(x);
          check_against_reference(type, W, s.rows, s.cols, x, Y.data() + t * s.rows, /*x_quantized=*/false);
        }
      }
    }
  }
  if (!gemm_supported(TensorType::F32, 64)) MESSAGE("AVX-512 paths off (no AVX-512F, or OPHTHA_NO_AVX512 set): gemm's fast path was not exercised");
}

TEST_CASE("gemm declines rows that are not a multiple of 32 and leaves the output untouched") {
  std::mt19937 rng(8);
  const std::vector<uint8_t> W = random_matrix(TensorType::F32, 4, 48, rng);
  const std::vector<float> X = random_floats(2 * 48, rng);
  std::vector<float> Y(8, 123.f);
  CHECK_FALSE(gemm_supported(TensorType::F32, 48));
  CHECK_FALSE(gemm(TensorType::F32, W.data(), 4, 48, X.data(), 2, Y.data(), nullptr));
  CHECK(Y == std::vector<float>(8, 123.f));
}

TEST_CASE("gemm results do not depend on the thread count") {
  std::mt19937 rng(9);
  for (TensorType type : kAllTypes) {
    const int64_t rows = 97, cols = 1024, tokens = 7;
    if (!gemm_supported(type, cols)) continue;
    const std::vector<uint8_t> W = random_matrix(type, rows, cols, rng);
    const std::vector<float> X = random_floats(tokens * cols, rng);
    std::vector<float> one(static_cast<size_t>(tokens * rows)), three(one.size());
    ThreadPool pool1(1), pool3(3);
    REQUIRE(gemm(type, W.data(), rows, cols, X.data(), tokens, one.data(), &pool1));
    REQUIRE(gemm(type, W.data(), rows, cols, X.data(), tokens, three.data(), &pool3));
    CHECK_MESSAGE(std::memcmp(one.data(), three.data(), one.size() * sizeof(float)) == 0, type_name(type));
  }
}

TEST_CASE("round_through_q8_0 equals quantize_row_q8_0 then dequantisation, bit for bit, per token") {
  std::mt19937 rng(10);
  const int64_t tokens = 5, cols = 96;
  const std::vector<float> x = random_floats(tokens * cols, rng, 3.f);
  std::vector<float> out(x.size());
  round_through_q8_0(x.data(), tokens, cols, out.data());
  for (int64_t t = 0; t < tokens; ++t) {
    const std::vector<float> want = q8_round_trip(std::vector<float>(x.begin() + t * cols, x.begin() + (t + 1) * cols));
    CHECK(std::memcmp(want.data(), out.data() + t * cols, cols * sizeof(float)) == 0);
  }
  CHECK_THROWS_AS(round_through_q8_0(x.data(), 1, 33, out.data()), Error);
}
