// ggml's reference quantisers (quantize_row_q8_0_ref, quantize_row_q4_0_ref) and the
// activation quantiser of the Q8_0/Q4_0 matvec, which must give the same bits.
//
// Every product and sum here is rounded on its own: GCC would otherwise fuse x * id + 8.5
// (or x * id - trunc) into one FMA and move rounding boundaries, so files written here could
// differ from numpy's gguf-py by one quantum in rare ties.
#if defined(__clang__)
#pragma clang fp contract(off)
#else
#pragma GCC optimize("fp-contract=off")
#endif

#include <cmath>

#include "kernels/kernels_internal.hpp"
#include "ophtha/error.hpp"

namespace ophtha::kernels {
namespace {

void check_quant_length(const char* function, int64_t n) {
  if (n < 0 || n % kQuantBlock != 0)
    fail(ErrorCode::InvalidArgument, "{}: length {} is not a multiple of {}", function, n, kQuantBlock);
}

// One block of quantize_row_q8_0_ref: writes qs [32], returns the f16 scale.
uint16_t quantize_block_q8_reference(const float* x, int8_t* qs) {
  float amax = 0.0f;
  for (int64_t j = 0; j < kQuantBlock; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
  for (int64_t j = 0; j < kQuantBlock; ++j) qs[j] = static_cast<int8_t>(std::roundf(x[j] * inverse));
  return fp32_to_fp16(d);
}

#if OPHTHA_KERNELS_AVX2

// roundf (ties away from zero) of 8 floats of magnitude < 2^23: truncate, then step away
// from zero where the exact remainder is at least one half.
__m256 round_half_away(__m256 v) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 truncated = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 remainder = _mm256_andnot_ps(sign_mask, _mm256_sub_ps(v, truncated));
  const __m256 step = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(sign_mask, v));
  const __m256 needs_step = _mm256_cmp_ps(remainder, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  return _mm256_add_ps(truncated, _mm256_and_ps(needs_step, step));
}

void quantize_block_q8(const float* x, int8_t* qs, float* d) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  __m256 v[4];
  __m256 amax = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) {
    v[k] = _mm256_loadu_ps(x + 8 * k);
    amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_mask, v[k]));
  }
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  const float scale = _mm_cvtss_f32(m) / 127.0f;
  *d = _cvtsh_ss(_cvtss_sh(scale, _MM_FROUND_TO_NEAREST_INT));  // fp16_to_fp32(fp32_to_fp16(scale))
  const __m256 inverse = _mm256_set1_ps(scale != 0.0f ? 1.0f / scale : 0.0f);
  __m256i q[4];
  for (int k = 0; k < 4; ++k) q[k] = _mm256_cvttps_epi32(round_half_away(_mm256_mul_ps(v[k], inverse)));
  // packs interleave 128-bit lanes: elements come out as 0-3 8-11 16-19 24-27 4-7 ...; the
  // final permutation restores 0..31.
  const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
  const __m256i ordered = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), ordered);
}

#else

void quantize_block_q8(const float* x, int8_t* qs, float* d) { *d = fp16_to_fp32(quantize_block_q8_reference(x, qs)); }

#endif

}  // namespace

void quantize_activation_q8(const float* x, int64_t n, int8_t* qs, float* d) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b) quantize_block_q8(x + b * kQuantBlock, qs + b * kQuantBlock, d + b);
}

void round_through_q8_0(const float* x, int64_t n_tokens, int64_t cols, float* out) {
  check_quant_length("round_through_q8_0", cols);
  int8_t qs[kQuantBlock];
  float d;
  for (int64_t i = 0; i < n_tokens * cols; i += kQuantBlock) {
    quantize_activation_q8(x + i, kQuantBlock, qs, &d);
    for (int64_t j = 0; j < kQuantBlock; ++j) out[i + j] = qs[j] * d;
  }
}

void quantize_row_q8_0(const float* x, void* dst, int64_t n) {
  check_quant_length("quantize_row_q8_0", n);
  auto* blocks = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const uint16_t d = quantize_block_q8_reference(x + b * kQuantBlock, blocks[b].qs);
    std::memcpy(&blocks[b].d, &d, sizeof d);
  }
}

void quantize_row_q4_0(const float* x, void* dst, int64_t n) {
  check_quant_length("quantize_row_q4_0", n);
  auto* blocks = static_cast<BlockQ4_0*>(dst);
  constexpr int64_t half = kQuantBlock / 2;
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    float amax = 0.0f, max = 0.0f;  // largest magnitude, and the value that has it (first wins)
    for (int64_t j = 0; j < kQuantBlock; ++j) {
      if (amax < std::fabs(xb[j])) {
        amax = std::fabs(xb[j]);
        max = xb[j];
      }
    }
    const float d = max / -8.0f;
    const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t d16 = fp32_to_fp16(d);
    std::memcpy(&blocks[b].d, &d16, sizeof d16);
    const auto nibble = [&](float v) {
      const float shifted = v * inverse + 8.5f;  // two roundings (fp-contract is off)
      const int q = static_cast<int8_t>(shifted);
      return static_cast<uint8_t>(q < 15 ? q : 15);
    };
    for (int64_t j = 0; j < half; ++j)
      blocks[b].qs[j] = static_cast<uint8_t>(nibble(xb[j]) | (nibble(xb[j + half]) << 4));
  }
}

}  // namespace ophtha::kernels
