// Internals shared by the kernel sources (and their tests): ggml block layouts, the shape
// checks, the scalar element decoders and the quantised form of an activation vector.
#pragma once
#include <cstdint>
#include <cstddef>
#include <cstring>

#include "ophtha/kernels.hpp"
#include "ophtha/tensor_type.hpp"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define OPHTHA_KERNELS_AVX2 1
#include <immintrin.h>
#else
#define OPHTHA_KERNELS_AVX2 0
#endif

namespace ophtha::kernels {

constexpr int64_t kQuantBlock = 32;  // elements per Q8_0 / Q4_0 block

struct BlockQ8_0 {
  uint16_t d;  // f16 scale
  int8_t qs[kQuantBlock];
};
struct BlockQ4_0 {
  uint16_t d;                   // f16 scale
  uint8_t qs[kQuantBlock / 2];  // element j in the low nibble of byte j, j + 16 in the high
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18, "ggml block layouts are packed");

inline uint16_t load_u16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Bytes of one row of `cols` elements; throws Error(InvalidArgument) naming `function` when
// cols or rows is negative or cols is not a whole number of blocks.
int64_t checked_row_bytes(const char* function, TensorType type, int64_t rows, int64_t cols);

// Element j of a row of `type` starting at `row`, widened to f32 (scalar, exact).
inline float row_element(TensorType type, const uint8_t* row, int64_t j) {
  switch (type) {
    case TensorType::F32: {
      float v;
      std::memcpy(&v, row + 4 * j, sizeof v);
      return v;
    }
    case TensorType::F16: return fp16_to_fp32(load_u16(row + 2 * j));
    case TensorType::BF16: return bf16_to_fp32(load_u16(row + 2 * j));
    case TensorType::Q8_0: {
      const auto* block = reinterpret_cast<const BlockQ8_0*>(row) + j / kQuantBlock;
      return static_cast<float>(block->qs[j % kQuantBlock]) * fp16_to_fp32(load_u16(&block->d));
    }
    case TensorType::Q4_0: {
      const auto* block = reinterpret_cast<const BlockQ4_0*>(row) + j / kQuantBlock;
      const int64_t k = j % kQuantBlock;
      const int nibble = k < 16 ? block->qs[k] & 0x0F : block->qs[k - 16] >> 4;
      return static_cast<float>(nibble - 8) * fp16_to_fp32(load_u16(&block->d));
    }
  }
  return 0.f;
}

// An activation vector quantised to Q8_0 (bit-identical to quantize_row_q8_0), with the
// int8 values contiguous and the scales widened to f32: qs [blocks * 32], d [blocks].
struct ActivationQ8 {
  const int8_t* qs;
  const float* d;
};

// Quantises x [n] (n a multiple of 32) into qs [n] and d [n / 32]; vectorised when AVX2 is
// compiled, same bits as quantize_row_q8_0 either way.
void quantize_activation_q8(const float* x, int64_t n, int8_t* qs, float* d);

// The integer prefill product for Q8_0 / Q4_0 (gemm_int8.cpp): AVX-512 VNNI, checked at run
// time by gemm_int8_supported(). Quantises X to Q8_0 per token, like matvec.
bool gemm_int8_supported();
void gemm_int8(TensorType type, const void* W, int64_t rows, int64_t cols, const float* X, int64_t n_tokens, float* Y,
               ThreadPool* pool);

#if OPHTHA_KERNELS_AVX2

// AVX2 decoders shared by matvec and dequantize.

// Eight consecutive elements of a float-type row, widened to f32.
struct F32Rows {
  static constexpr TensorType kType = TensorType::F32;
  static __m256 load8(const uint8_t* row, int64_t j) { return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + j); }
};
struct F16Rows {
  static constexpr TensorType kType = TensorType::F16;
  static __m256 load8(const uint8_t* row, int64_t j) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * j)));
  }
};
struct BF16Rows {
  static constexpr TensorType kType = TensorType::BF16;
  static __m256 load8(const uint8_t* row, int64_t j) {
    const __m256i halves = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * j)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(halves, 16));
  }
};

// The 32 int8 values of a quantised block, in element order.
struct Q8_0Rows {
  static constexpr int64_t kBlockBytes = sizeof(BlockQ8_0);
  static __m256i load_qs(const uint8_t* block) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + offsetof(BlockQ8_0, qs)));
  }
};
struct Q4_0Rows {
  static constexpr int64_t kBlockBytes = sizeof(BlockQ4_0);
  // The stored nibbles in [0, 15]: the 16 bytes in both 128-bit lanes, the upper lane
  // shifted right by 4 (one variable shift instead of shift + insert).
  static __m256i load_nibbles(const uint8_t* block) {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + offsetof(BlockQ4_0, qs)));
    const __m256i both = _mm256_srlv_epi64(_mm256_broadcastsi128_si256(packed), _mm256_set_epi64x(4, 4, 0, 0));
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
  }
  static __m256i load_qs(const uint8_t* block) { return _mm256_sub_epi8(load_nibbles(block), _mm256_set1_epi8(8)); }
};

// The f16 scale at the start of a block, in all 8 lanes.
inline __m256 block_scale(const uint8_t* block) { return _mm256_cvtph_ps(_mm_set1_epi16(static_cast<int16_t>(load_u16(block)))); }

#endif

}  // namespace ophtha::kernels
