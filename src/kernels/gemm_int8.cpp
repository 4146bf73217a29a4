// Prefill product for Q8_0 / Q4_0 weights in integer arithmetic, as ggml does it: x is
// quantised to Q8_0 per token, each 32-element block's dot product is an exact int32 sum,
// and only the block sums are scaled (d_w · d_x) and accumulated in f32.
//
// AVX-512 VNNI (runtime-checked). VPDPBUSD multiplies unsigned by signed bytes, so the weights
// are packed as w + 128 (u8) and each block sum is corrected by 128 · Σ x_q of that block.
// Packed strip layout, for 32 rows and one block b (1 KiB): for k-group g in [0, 8), the 32
// rows' 4 consecutive weights w[row, 32b + 4g .. 32b + 4g + 3] side by side, so that one
// register holds 16 rows × 4 weights and one VPDPBUSD adds 64 products into 16 row sums.
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <array>
#include <cstring>
#include <vector>

#include "kernels/kernels_internal.hpp"
#include "ophtha/thread_pool.hpp"

// GCC 12's AVX-512 intrinsics initialise their "undefined" vectors from themselves.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define OPHTHA_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

namespace ophtha::kernels {
namespace {

constexpr int kStripRows = 32;            // two registers of 16 rows
constexpr int kTileTokens = 4;
constexpr int64_t kChunkBlocks = 32;      // 1024 columns: a packed strip is 32 KiB, in L1
constexpr int64_t kPackedBlockBytes = 8 * kStripRows * 4;

// x (T, cols) quantised: int8 values, f32 block scales, and 128 · (sum of a block's values).
struct QuantizedTokens {
  std::vector<int8_t> qs;       // (T, cols)
  std::vector<float> d;         // (T, blocks)
  std::vector<int32_t> offset;  // (T, blocks)
};

// Rows [r0, r0 + n) (n <= 32) and blocks [b0, b0 + nb) of W into the packed strip layout;
// rows past n are zero weights with zero scale.
void pack_strip(TensorType type, const uint8_t* W, uint64_t row_bytes, int64_t r0, int n, int64_t b0, int64_t nb,
                uint8_t* packed, float* scales) {
  for (int row = 0; row < kStripRows; ++row) {
    const uint8_t* src = row < n ? W + static_cast<uint64_t>(r0 + row) * row_bytes : nullptr;
    for (int64_t b = 0; b < nb; ++b) {
      int8_t q[kQuantBlock] = {};
      float d = 0.f;
      if (src != nullptr && type == TensorType::Q8_0) {
        const auto* block = reinterpret_cast<const BlockQ8_0*>(src) + b0 + b;
        std::memcpy(q, block->qs, kQuantBlock);
        d = fp16_to_fp32(load_u16(&block->d));
      } else if (src != nullptr) {
        const auto* block = reinterpret_cast<const BlockQ4_0*>(src) + b0 + b;
        for (int j = 0; j < kQuantBlock / 2; ++j) {
          q[j] = static_cast<int8_t>((block->qs[j] & 0x0F) - 8);
          q[j + 16] = static_cast<int8_t>((block->qs[j] >> 4) - 8);
        }
        d = fp16_to_fp32(load_u16(&block->d));
      }
      uint8_t* dst = packed + b * kPackedBlockBytes + row * 4;
      for (int g = 0; g < 8; ++g)
        for (int j = 0; j < 4; ++j) dst[g * kStripRows * 4 + j] = static_cast<uint8_t>(q[4 * g + j] + 128);
      scales[b * kStripRows + row] = d;
    }
  }
}

// y[m][0..n_valid) (+)= the strip's rows · token m, over nb blocks.
template <int M>
OPHTHA_VNNI void tile(const uint8_t* packed, const float* scales, int64_t nb, const int8_t* xq, int64_t ld_xq,
                      const float* xd, const int32_t* x_offset, int64_t ld_xb, float* y, int64_t ldy, int n_valid,
                      bool accumulate) {
  __m512 acc[M][2];
  for (int m = 0; m < M; ++m) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m512i sums[M][2];
    for (int m = 0; m < M; ++m) sums[m][0] = sums[m][1] = _mm512_setzero_si512();
    const uint8_t* p = packed + b * kPackedBlockBytes;
    for (int g = 0; g < 8; ++g) {
      const __m512i w0 = _mm512_loadu_si512(p + g * 128);
      const __m512i w1 = _mm512_loadu_si512(p + g * 128 + 64);
      for (int m = 0; m < M; ++m) {
        int32_t four;
        std::memcpy(&four, xq + m * ld_xq + b * kQuantBlock + 4 * g, 4);
        const __m512i x4 = _mm512_set1_epi32(four);
        sums[m][0] = _mm512_dpbusd_epi32(sums[m][0], w0, x4);
        sums[m][1] = _mm512_dpbusd_epi32(sums[m][1], w1, x4);
      }
    }
    const __m512 dw0 = _mm512_loadu_ps(scales + b * kStripRows);
    const __m512 dw1 = _mm512_loadu_ps(scales + b * kStripRows + 16);
    for (int m = 0; m < M; ++m) {
      const __m512i offset = _mm512_set1_epi32(x_offset[m * ld_xb + b]);
      const __m512 dx = _mm512_set1_ps(xd[m * ld_xb + b]);
      acc[m][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(sums[m][0], offset)), _mm512_mul_ps(dw0, dx),
                                  acc[m][0]);
      acc[m][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(sums[m][1], offset)), _mm512_mul_ps(dw1, dx),
                                  acc[m][1]);
    }
  }
  const __mmask16 mask0 = static_cast<__mmask16>(n_valid >= 16 ? 0xFFFF : (1u << n_valid) - 1);
  const __mmask16 mask1 = static_cast<__mmask16>(n_valid >= 32 ? 0xFFFF : n_valid <= 16 ? 0 : (1u << (n_valid - 16)) - 1);
  for (int m = 0; m < M; ++m) {
    float* row = y + m * ldy;
    __m512 v0 = acc[m][0], v1 = acc[m][1];
    if (accumulate) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(mask0, row));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(mask1, row + 16));
    }
    _mm512_mask_storeu_ps(row, mask0, v0);
    _mm512_mask_storeu_ps(row + 16, mask1, v1);
  }
}

using TileFn = void (*)(const uint8_t*, const float*, int64_t, const int8_t*, int64_t, const float*, const int32_t*,
                        int64_t, float*, int64_t, int, bool);
constexpr std::array<TileFn, kTileTokens> kTiles = {&tile<1>, &tile<2>, &tile<3>, &tile<4>};

void quantize_tokens(const float* X, int64_t n_tokens, int64_t cols, QuantizedTokens& out, ThreadPool* pool) {
  const int64_t blocks = cols / kQuantBlock;
  out.qs.resize(static_cast<size_t>(n_tokens * cols));
  out.d.resize(static_cast<size_t>(n_tokens * blocks));
  out.offset.resize(out.d.size());
  auto run = [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) {
      int8_t* q = out.qs.data() + t * cols;
      quantize_activation_q8(X + t * cols, cols, q, out.d.data() + t * blocks);
      for (int64_t b = 0; b < blocks; ++b) {
        int32_t sum = 0;
        for (int64_t j = 0; j < kQuantBlock; ++j) sum += q[b * kQuantBlock + j];
        out.offset[static_cast<size_t>(t * blocks + b)] = 128 * sum;
      }
    }
  };
  if (pool != nullptr && pool->size() > 1 && n_tokens > 1) {
    pool->parallel_for(n_tokens, 1, run);
  } else {
    run(0, n_tokens, 0);
  }
}

}  // namespace

bool gemm_int8_supported() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vnni") && std::getenv("OPHTHA_NO_AVX512") == nullptr;
  return has;
}

void gemm_int8(TensorType type, const void* W, int64_t rows, int64_t cols, const float* X, int64_t n_tokens, float* Y,
               ThreadPool* pool) {
  thread_local QuantizedTokens caller_tokens;
  QuantizedTokens& x = caller_tokens;  // a plain reference: the workers must read the caller's copy
  quantize_tokens(X, n_tokens, cols, x, pool);
  const int64_t blocks = cols / kQuantBlock;
  const uint64_t row_bytes = *tensor_bytes(type, static_cast<uint64_t>(cols));
  const int64_t strips = (rows + kStripRows - 1) / kStripRows;
  auto run = [&](int64_t s0, int64_t s1, int) {
    thread_local std::vector<uint8_t> packed;
    thread_local std::vector<float> scales;
    packed.resize(static_cast<size_t>(kChunkBlocks * kPackedBlockBytes));
    scales.resize(static_cast<size_t>(kChunkBlocks * kStripRows));
    for (int64_t b0 = 0; b0 < blocks; b0 += kChunkBlocks) {
      const int64_t nb = std::min(kChunkBlocks, blocks - b0);
      for (int64_t s = s0; s < s1; ++s) {
        const int64_t r0 = s * kStripRows;
        const int n = static_cast<int>(std::min<int64_t>(kStripRows, rows - r0));
        pack_strip(type, static_cast<const uint8_t*>(W), row_bytes, r0, n, b0, nb, packed.data(), scales.data());
        for (int64_t t0 = 0; t0 < n_tokens; t0 += kTileTokens) {
          const int m = static_cast<int>(std::min<int64_t>(kTileTokens, n_tokens - t0));
          kTiles[m - 1](packed.data(), scales.data(), nb, x.qs.data() + t0 * cols + b0 * kQuantBlock, cols,
                        x.d.data() + t0 * blocks + b0, x.offset.data() + t0 * blocks + b0, blocks, Y + t0 * rows + r0,
                        rows, n, b0 > 0);
        }
      }
    }
  };
  if (pool != nullptr && pool->size() > 1) {
    pool->parallel_for(strips, 1, run);
  } else {
    run(0, strips, 0);
  }
}

}  // namespace ophtha::kernels
