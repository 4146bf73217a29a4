// Rows of a stored matrix widened to f32, for prefill (BLAS on f32 blocks of rows) and for
// embedding lookups. Each value is one exact widening or one f32 product q * d, so the
// result is bit-identical to dequantize_rows_reference.
#include <cstring>

#include "kernels/kernels_internal.hpp"
#include "ophtha/error.hpp"
#include "ophtha/thread_pool.hpp"

namespace ophtha::kernels {
namespace {

// Below this many bytes of output one thread finishes in about a fork/join's time.
constexpr int64_t kMinParallelBytes = 64 << 10;

#if OPHTHA_KERNELS_AVX2

template <class Rows>
void widen_row(const uint8_t* row, int64_t cols, float* dst) {
  int64_t j = 0;
  for (; j + 8 <= cols; j += 8) _mm256_storeu_ps(dst + j, Rows::load8(row, j));
  for (; j < cols; ++j) dst[j] = row_element(Rows::kType, row, j);
}

template <class Rows>
void dequantize_quant_row(const uint8_t* row, int64_t cols, float* dst) {
  for (int64_t b = 0; b < cols / kQuantBlock; ++b) {
    const uint8_t* block = row + b * Rows::kBlockBytes;
    const __m256 d = block_scale(block);
    const __m256i q = Rows::load_qs(block);
    const __m128i halves[2] = {_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)};
    for (int k = 0; k < 4; ++k) {
      const __m128i eight = k % 2 ? _mm_srli_si128(halves[k / 2], 8) : halves[k / 2];
      const __m256 values = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(eight));
      _mm256_storeu_ps(dst + b * kQuantBlock + 8 * k, _mm256_mul_ps(values, d));
    }
  }
}

void dequantize_row(TensorType type, const uint8_t* row, int64_t cols, float* dst) {
  switch (type) {
    case TensorType::F32: std::memcpy(dst, row, static_cast<size_t>(cols) * sizeof(float)); return;
    case TensorType::F16: return widen_row<F16Rows>(row, cols, dst);
    case TensorType::BF16: return widen_row<BF16Rows>(row, cols, dst);
    case TensorType::Q8_0: return dequantize_quant_row<Q8_0Rows>(row, cols, dst);
    case TensorType::Q4_0: return dequantize_quant_row<Q4_0Rows>(row, cols, dst);
  }
}

#else

void dequantize_row(TensorType type, const uint8_t* row, int64_t cols, float* dst) {
  for (int64_t j = 0; j < cols; ++j) dst[j] = row_element(type, row, j);
}

#endif

}  // namespace

void dequantize_rows(TensorType type, const void* W, int64_t row0, int64_t rows, int64_t cols, float* dst,
                     ThreadPool* pool) {
  const int64_t row_bytes = checked_row_bytes("dequantize_rows", type, rows, cols);
  if (row0 < 0) fail(ErrorCode::InvalidArgument, "dequantize_rows: row0 is {}", row0);
  const auto* first = static_cast<const uint8_t*>(W) + row0 * row_bytes;
  const auto run = [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) dequantize_row(type, first + r * row_bytes, cols, dst + r * cols);
  };
  if (pool && rows * cols * static_cast<int64_t>(sizeof(float)) >= kMinParallelBytes)
    pool->parallel_for(rows, 1, run);
  else
    run(0, rows, 0);
}

}  // namespace ophtha::kernels
