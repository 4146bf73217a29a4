// Matrix-matrix product for the prefill: Y (T, rows) = X (T, cols) · Wᵀ with W in its stored
// type. AVX-512F only (runtime-checked); other CPUs get `false` and the caller uses BLAS.
//
// Blocking (per thread, over its own contiguous range of W rows):
//   for each column block of kKc (X's block, T × kKc f32, stays in L2 for every strip):
//     for each strip of kNr rows of W: widen the strip's block to f32 once (F32 is read in
//       place), then for each group of kMr tokens run the register tile below over it.
// The tile keeps kMr × kNr accumulators of 16 lanes along k (dot-product form, so W is never
// transposed or packed) and reduces them once per column block. Sums differ from the
// reference only in their order.
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <array>
#include <utility>
#include <vector>

#include "kernels/kernels_internal.hpp"
#include "ophtha/kernels.hpp"
#include "ophtha/tensor_type.hpp"
#include "ophtha/thread_pool.hpp"

// GCC 12's AVX-512 intrinsics initialise their "undefined" vectors from themselves.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define OPHTHA_AVX512 __attribute__((target("avx512f,avx512dq,avx,sse3,fma")))

namespace ophtha::kernels {
namespace {

constexpr int kMr = 4;          // tokens per tile
constexpr int kNr = 6;          // W rows per tile (strip height)
constexpr int64_t kKc = 512;    // columns per block: a 6-row f32 strip is 12 KiB, in L1

OPHTHA_AVX512 inline float horizontal_sum(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4e));  // lanes 0-7 += lanes 8-15
  const __m256 s8 = _mm512_castps512_ps256(v);
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
  return _mm_cvtss_f32(s4);
}

// y[m][n] (+)= dot(x row m, w row n) over kc columns, kc a multiple of 16.
template <int M, int N>
OPHTHA_AVX512 void tile(const float* x, int64_t ldx, const float* w, int64_t ldw, int64_t kc, float* y, int64_t ldy,
                        bool accumulate) {
  __m512 acc[M][N];
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) acc[m][n] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; k += 16) {
    __m512 wv[N];
    for (int n = 0; n < N; ++n) wv[n] = _mm512_loadu_ps(w + n * ldw + k);
    for (int m = 0; m < M; ++m) {
      const __m512 xv = _mm512_loadu_ps(x + m * ldx + k);
      for (int n = 0; n < N; ++n) acc[m][n] = _mm512_fmadd_ps(xv, wv[n], acc[m][n]);
    }
  }
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      const float s = horizontal_sum(acc[m][n]);
      y[m * ldy + n] = accumulate ? y[m * ldy + n] + s : s;
    }
}

using TileFn = void (*)(const float*, int64_t, const float*, int64_t, int64_t, float*, int64_t, bool);

template <int M, int... Ns>
constexpr std::array<TileFn, sizeof...(Ns)> tiles_for_m(std::integer_sequence<int, Ns...>) {
  return {&tile<M, Ns + 1>...};
}

// kTiles[m - 1][n - 1] = tile<m, n>.
const std::array<std::array<TileFn, kNr>, kMr> kTiles = {
    tiles_for_m<1>(std::make_integer_sequence<int, kNr>{}), tiles_for_m<2>(std::make_integer_sequence<int, kNr>{}),
    tiles_for_m<3>(std::make_integer_sequence<int, kNr>{}), tiles_for_m<4>(std::make_integer_sequence<int, kNr>{})};

// Rows [row0, row0 + n) of W, columns [k0, k0 + kc), widened into dst (n, kc).
void widen_block(TensorType type, const void* W, int64_t row0, int64_t n, int64_t cols, int64_t k0, int64_t kc,
                 float* dst) {
  const uint64_t row_bytes = *tensor_bytes(type, static_cast<uint64_t>(cols));
  const uint64_t col_offset = *tensor_bytes(type, static_cast<uint64_t>(k0));  // k0 is a block multiple
  for (int64_t r = 0; r < n; ++r) {
    const auto* row = static_cast<const uint8_t*>(W) + static_cast<uint64_t>(row0 + r) * row_bytes + col_offset;
    dequantize_rows(type, row, 0, 1, kc, dst + r * kc, nullptr);
  }
}

OPHTHA_AVX512 void gemm_rows(TensorType type, const void* W, int64_t row_begin, int64_t row_end, int64_t cols,
                             const float* X, int64_t n_tokens, float* Y, int64_t ldy) {
  thread_local std::vector<float> strip;
  if (type != TensorType::F32) strip.resize(static_cast<size_t>(kNr * kKc));
  for (int64_t k0 = 0; k0 < cols; k0 += kKc) {
    const int64_t kc = std::min(kKc, cols - k0);
    for (int64_t r0 = row_begin; r0 < row_end; r0 += kNr) {
      const int n = static_cast<int>(std::min<int64_t>(kNr, row_end - r0));
      const float* w;
      int64_t ldw;
      if (type == TensorType::F32) {
        w = static_cast<const float*>(W) + r0 * cols + k0;
        ldw = cols;
      } else {
        widen_block(type, W, r0, n, cols, k0, kc, strip.data());
        w = strip.data();
        ldw = kc;
      }
      for (int64_t t0 = 0; t0 < n_tokens; t0 += kMr) {
        const int m = static_cast<int>(std::min<int64_t>(kMr, n_tokens - t0));
        kTiles[m - 1][n - 1](X + t0 * cols + k0, cols, w, ldw, kc, Y + t0 * ldy + r0, ldy, k0 > 0);
      }
    }
  }
}

bool cpu_has_avx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                          std::getenv("OPHTHA_NO_AVX512") == nullptr;
  return has;
}

}  // namespace

bool gemm_supported(TensorType type, int64_t cols) {
  if (!cpu_has_avx512() || cols <= 0 || cols % 32 != 0) return false;
  switch (type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
    case TensorType::Q8_0:
    case TensorType::Q4_0: return true;
    default: return false;
  }
}

bool gemm(TensorType type, const void* W, int64_t rows, int64_t cols, const float* X, int64_t n_tokens, float* Y,
          ThreadPool* pool) {
  if (!gemm_supported(type, cols) || rows <= 0 || n_tokens <= 0) return false;
  const bool quantized = type == TensorType::Q8_0 || type == TensorType::Q4_0;
  if (quantized && gemm_int8_supported()) {
    gemm_int8(type, W, rows, cols, X, n_tokens, Y, pool);
    return true;
  }
  thread_local std::vector<float> rounded;  // the caller's thread only
  if (quantized) {
    rounded.resize(static_cast<size_t>(n_tokens * cols));
    round_through_q8_0(X, n_tokens, cols, rounded.data());
    X = rounded.data();
  }
  const int64_t strips = (rows + kNr - 1) / kNr;
  auto run = [&](int64_t s0, int64_t s1, int) {
    gemm_rows(type, W, s0 * kNr, std::min(rows, s1 * kNr), cols, X, n_tokens, Y, rows);
  };
  if (pool != nullptr && pool->size() > 1) {
    pool->parallel_for(strips, 1, run);
  } else {
    run(0, strips, 0);
  }
  return true;
}

}  // namespace ophtha::kernels
