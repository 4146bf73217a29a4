// Matrix-matrix product for the prefill and for branches: Y (T, rows) = X (T, cols) · Wᵀ with W in
// its stored type. AVX-512F only (runtime-checked); other CPUs get `false` and the caller uses BLAS.
//
// Blocking (per thread, over its own contiguous range of W rows):
//   for each column block of kKc (X's block, T × kKc f32, stays in L2 for every panel):
//     for each panel of kNr rows of W: widen the rows' block to f32 and transpose it into a
//       panel (kKc, kNr) — column k's kNr weights side by side — 16 × 16 in registers, once for
//       all tokens; then for each group of kMr tokens run the register tile below over it.
// The tile is in outer-product form: kMr × 2 accumulators of 16 rows each; per column k it loads
// the panel's two vectors and broadcasts each token's x[k] into them, so no horizontal sum is
// ever needed and Y is written as whole vectors. Each output is one FMA chain over k in order;
// sums differ from the reference only in their order.
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

constexpr int kMr = 12;         // tokens per tile: 24 accumulators of the 32 registers
constexpr int kNr = 32;         // W rows per panel: two 16-lane vectors
constexpr int64_t kKc = 256;    // columns per block: a panel is 32 KiB

// y[m][0, 32) (+)= Σ_k x[m][k] · panel[k][0, 32) over kc columns; lanes outside the masks are
// neither read nor written (a panel's rows past the matrix are zero).
template <int M>
OPHTHA_AVX512 void tile(const float* x, int64_t ldx, const float* panel, int64_t kc, float* y, int64_t ldy,
                        __mmask16 mask0, __mmask16 mask1, bool accumulate) {
  __m512 acc[M][2];
  for (int m = 0; m < M; ++m) {
    acc[m][0] = accumulate ? _mm512_maskz_loadu_ps(mask0, y + m * ldy) : _mm512_setzero_ps();
    acc[m][1] = accumulate ? _mm512_maskz_loadu_ps(mask1, y + m * ldy + 16) : _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 w0 = _mm512_loadu_ps(panel + k * kNr);
    const __m512 w1 = _mm512_loadu_ps(panel + k * kNr + 16);
    for (int m = 0; m < M; ++m) {
      const __m512 xv = _mm512_set1_ps(x[m * ldx + k]);
      acc[m][0] = _mm512_fmadd_ps(xv, w0, acc[m][0]);
      acc[m][1] = _mm512_fmadd_ps(xv, w1, acc[m][1]);
    }
  }
  for (int m = 0; m < M; ++m) {
    _mm512_mask_storeu_ps(y + m * ldy, mask0, acc[m][0]);
    _mm512_mask_storeu_ps(y + m * ldy + 16, mask1, acc[m][1]);
  }
}

using TileFn = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t, __mmask16, __mmask16, bool);

template <int... Ms>
constexpr std::array<TileFn, sizeof...(Ms)> tiles(std::integer_sequence<int, Ms...>) {
  return {&tile<Ms + 1>...};
}

// kTiles[m - 1] = tile<m>.
const std::array<TileFn, kMr> kTiles = tiles(std::make_integer_sequence<int, kMr>{});

// r[j] = column j of the 16 × 16 block whose rows are r[0..15] (in-lane unpacks, then 128-bit
// lane shuffles: after the unpacks u[4g + c] holds, in lane L, column 4L + c of rows 4g..4g+3).
OPHTHA_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int g = 0; g < 4; ++g) {
    const __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int c = 0; c < 4; ++c) {
    const __m512 x = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), y = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
    const __m512 x2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
    const __m512 y2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
    r[c] = _mm512_shuffle_f32x4(x, x2, 0x88);
    r[8 + c] = _mm512_shuffle_f32x4(x, x2, 0xdd);
    r[4 + c] = _mm512_shuffle_f32x4(y, y2, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(y, y2, 0xdd);
  }
}

// Sixteen consecutive weights of a row as f32, bit-identical to dequantize_rows.
struct LoadF32 {
  const float* w;  // the block's first row, first column
  int64_t ld;
  OPHTHA_AVX512 __m512 operator()(int row, int64_t k) const { return _mm512_loadu_ps(w + row * ld + k); }
};
struct LoadF16 {
  const uint16_t* w;
  int64_t ld;
  OPHTHA_AVX512 __m512 operator()(int row, int64_t k) const {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + row * ld + k)));
  }
};
struct LoadBF16 {
  const uint16_t* w;
  int64_t ld;
  OPHTHA_AVX512 __m512 operator()(int row, int64_t k) const {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + row * ld + k)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
};

// panel (kc, kNr) = the block's rows 0..n-1 (load), transposed 16 × 16 at a time; the panel's
// rows n..kNr-1 are zero.
template <class Load>
OPHTHA_AVX512 void pack_with(const Load& load, int n, int64_t kc, float* panel) {
  for (int g = 0; g < kNr / 16; ++g)
    for (int64_t k = 0; k < kc; k += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; ++i) r[i] = g * 16 + i < n ? load(g * 16 + i, k) : _mm512_setzero_ps();
      transpose16(r);
      for (int j = 0; j < 16; ++j) _mm512_storeu_ps(panel + (k + j) * kNr + g * 16, r[j]);
    }
}

// panel (kc, kNr) = rows [row0, row0 + n) of W, columns [k0, k0 + kc), widened and transposed;
// rows n..kNr-1 zero. Float and half types are widened as they are read; quantised ones (the
// path without VNNI) into `strip` (n × kc floats) first.
OPHTHA_AVX512 void pack_panel(TensorType type, const void* W, int64_t row0, int n, int64_t cols, int64_t k0,
                              int64_t kc, float* strip, float* panel) {
  const uint64_t row_bytes = *tensor_bytes(type, static_cast<uint64_t>(cols));
  const auto* first = static_cast<const uint8_t*>(W) + static_cast<uint64_t>(row0) * row_bytes;
  switch (type) {
    case TensorType::F32: return pack_with(LoadF32{reinterpret_cast<const float*>(first) + k0, cols}, n, kc, panel);
    case TensorType::F16: return pack_with(LoadF16{reinterpret_cast<const uint16_t*>(first) + k0, cols}, n, kc, panel);
    case TensorType::BF16: return pack_with(LoadBF16{reinterpret_cast<const uint16_t*>(first) + k0, cols}, n, kc, panel);
    default: {
      const uint64_t col_offset = *tensor_bytes(type, static_cast<uint64_t>(k0));  // k0 is a block multiple
      for (int r = 0; r < n; ++r) dequantize_rows(type, first + r * row_bytes + col_offset, 0, 1, kc, strip + r * kc, nullptr);
      return pack_with(LoadF32{strip, kc}, n, kc, panel);
    }
  }
}

OPHTHA_AVX512 void gemm_rows(TensorType type, const void* W, int64_t row_begin, int64_t row_end, int64_t cols,
                             const float* X, int64_t n_tokens, float* Y, int64_t ldy) {
  thread_local std::vector<float> strip, panel;  // strip: quantised rows widened (pack_panel)
  if (type == TensorType::Q8_0 || type == TensorType::Q4_0) strip.resize(static_cast<size_t>(kNr * kKc));
  panel.resize(static_cast<size_t>(kNr * kKc));
  for (int64_t k0 = 0; k0 < cols; k0 += kKc) {
    const int64_t kc = std::min(kKc, cols - k0);
    for (int64_t r0 = row_begin; r0 < row_end; r0 += kNr) {
      const int n = static_cast<int>(std::min<int64_t>(kNr, row_end - r0));
      pack_panel(type, W, r0, n, cols, k0, kc, strip.data(), panel.data());
      const auto mask0 = static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << n) - 1);
      const auto mask1 = static_cast<__mmask16>(n >= 32 ? 0xFFFF : n > 16 ? (1u << (n - 16)) - 1 : 0);
      for (int64_t t0 = 0; t0 < n_tokens; t0 += kMr) {
        const int m = static_cast<int>(std::min<int64_t>(kMr, n_tokens - t0));
        kTiles[m - 1](X + t0 * cols + k0, cols, panel.data(), kc, Y + t0 * ldy + r0, ldy, mask0, mask1, k0 > 0);
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
