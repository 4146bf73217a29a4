// Matrix-vector products over stored weights: the decode hot path.
//
// Decode is bound by reading the weights once per token, and one core reading one stream
// reaches only ~10-20 GB/s here, so the rows are split over the threads by bytes and each
// thread reads its rows as four long sequential streams (run_rows). Float types
// (F32/F16/BF16) are widened to f32 in registers and accumulated with FMA; quantised types
// (Q8_0/Q4_0) dot their int8 values against x quantised once to Q8_0, 32 products per
// maddubs/madd pair, as ggml does. Measured on 2 cores (bench/bench_kernels.cpp): every type
// reads at memory speed, except Q4_0, whose unpacking holds it near 47 GB/s.
#include <vector>

#include "kernels/kernels_internal.hpp"
#include "ophtha/error.hpp"
#include "ophtha/thread_pool.hpp"

namespace ophtha::kernels {
namespace {

// Below this many weight bytes one thread finishes in about a fork/join's time.
constexpr uint64_t kMinParallelBytes = 64 << 10;

constexpr int kStreams = 4;  // rows walked at once by one thread

struct MatrixOperand {
  TensorType type;
  const uint8_t* W;
  int64_t rows;
  int64_t row_bytes;
  float* y;
};

// R rows of one matrix for a row kernel: row r at w + r * w_stride, its result at y[r * y_stride].
struct RowSet {
  const uint8_t* w;
  int64_t w_stride;
  float* y;
  int64_t y_stride;
};

// x [cols] as f32 and, for quantised weights, as Q8_0.
struct VectorOperand {
  const float* x;
  ActivationQ8 xq;
  int64_t cols;
};

bool is_quantized(TensorType type) { return type == TensorType::Q8_0 || type == TensorType::Q4_0; }

#if OPHTHA_KERNELS_AVX2

// rows.y[r * y_stride] = the horizontal sum of acc[r], r in [0, R), always added in the same
// order ((0+1)+(2+3)) + ((4+5)+(6+7)), so a row's result does not depend on whether it was
// walked alone or with others (nor, therefore, on the thread count).
template <int R>
void store_sums(const __m256* acc, const RowSet& rows) {
  static_assert(R >= 1 && R <= 4, "four sums per store");
  __m256 a[4];
  for (int r = 0; r < 4; ++r) a[r] = r < R ? acc[r] : _mm256_setzero_ps();
  const __m256 sums = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
  alignas(16) float out[4];
  _mm_store_ps(out, _mm_add_ps(_mm256_castps256_ps128(sums), _mm256_extractf128_ps(sums, 1)));
  for (int r = 0; r < R; ++r) rows.y[r * rows.y_stride] = out[r];
}

// y[r] = W[r, :] · x for R rows of a float type, two accumulators per row.
template <class Rows, int R>
void dot_rows_wide(const RowSet& rows, const float* x, int64_t cols) {
  const uint8_t* w = rows.w;
  const int64_t stride = rows.w_stride;
  __m256 acc0[R], acc1[R];
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 16 <= cols; j += 16) {
    const __m256 x0 = _mm256_loadu_ps(x + j), x1 = _mm256_loadu_ps(x + j + 8);
    for (int r = 0; r < R; ++r) {
      acc0[r] = _mm256_fmadd_ps(Rows::load8(w + r * stride, j), x0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(Rows::load8(w + r * stride, j + 8), x1, acc1[r]);
    }
  }
  for (; j + 8 <= cols; j += 8) {
    const __m256 x0 = _mm256_loadu_ps(x + j);
    for (int r = 0; r < R; ++r) acc0[r] = _mm256_fmadd_ps(Rows::load8(w + r * stride, j), x0, acc0[r]);
  }
  for (int r = 0; r < R; ++r) acc0[r] = _mm256_add_ps(acc0[r], acc1[r]);
  store_sums<R>(acc0, rows);
  for (; j < cols; ++j)
    for (int r = 0; r < R; ++r) rows.y[r * rows.y_stride] += row_element(Rows::kType, w + r * stride, j) * x[j];
}

// Block dots of a quantised row against x in Q8_0: prepare() readies one block of x once
// for all rows, dot() gives eight int32 partial sums of w · x. maddubs multiplies unsigned
// by signed bytes and adds pairs into int16.
struct Q8_0Dot {
  using XBlock = __m256i;
  static XBlock prepare(__m256i xq) { return xq; }
  // |w| meets x with w's sign (right for w = -128 too); pair sums stay within 2·128·127 < 2^15.
  static __m256i dot(const uint8_t* block, const XBlock& x) {
    const __m256i w = Q8_0Rows::load_qs(block);
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
  }
};
struct Q4_0Dot {
  // x and the int16 pair sums of 8 · x: sum (q - 8) x = sum q x - sum 8 x, with the stored
  // nibbles q in [0, 15] as the unsigned operand (pair sums within 2·15·127).
  struct XBlock {
    __m256i q, eight_x;
  };
  static XBlock prepare(__m256i xq) { return {xq, _mm256_maddubs_epi16(_mm256_set1_epi8(8), xq)}; }
  static __m256i dot(const uint8_t* block, const XBlock& x) {
    const __m256i pairs = _mm256_sub_epi16(_mm256_maddubs_epi16(Q4_0Rows::load_nibbles(block), x.q), x.eight_x);
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
  }
};

// y[r] = W[r, :] · x for R rows of a quantised type against x in Q8_0.
template <class Rows, class Dot, int R>
void dot_rows_quant(const RowSet& rows, const ActivationQ8& x, int64_t cols) {
  const uint8_t* w = rows.w;
  const int64_t stride = rows.w_stride;
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < cols / kQuantBlock; ++b) {
    const typename Dot::XBlock xb =
        Dot::prepare(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.qs + b * kQuantBlock)));
    const __m256 xd = _mm256_broadcast_ss(x.d + b);
    for (int r = 0; r < R; ++r) {
      const uint8_t* block = w + r * stride + b * Rows::kBlockBytes;
      const __m256 scale = _mm256_mul_ps(block_scale(block), xd);
      acc[r] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(Dot::dot(block, xb)), acc[r]);
    }
  }
  store_sums<R>(acc, rows);
}

template <int R>
void dot_rows(TensorType type, const RowSet& rows, const VectorOperand& v) {
  switch (type) {
    case TensorType::F32: return dot_rows_wide<F32Rows, R>(rows, v.x, v.cols);
    case TensorType::F16: return dot_rows_wide<F16Rows, R>(rows, v.x, v.cols);
    case TensorType::BF16: return dot_rows_wide<BF16Rows, R>(rows, v.x, v.cols);
    case TensorType::Q8_0: return dot_rows_quant<Q8_0Rows, Q8_0Dot, R>(rows, v.xq, v.cols);
    case TensorType::Q4_0: return dot_rows_quant<Q4_0Rows, Q4_0Dot, R>(rows, v.xq, v.cols);
  }
}

#else  // portable: the same arithmetic one element at a time

int quant_value(TensorType type, const uint8_t* row, int64_t j) {
  if (type == TensorType::Q8_0) return reinterpret_cast<const BlockQ8_0*>(row)[j / kQuantBlock].qs[j % kQuantBlock];
  const BlockQ4_0& block = reinterpret_cast<const BlockQ4_0*>(row)[j / kQuantBlock];
  const int64_t k = j % kQuantBlock;
  return (k < 16 ? block.qs[k] & 0x0F : block.qs[k - 16] >> 4) - 8;
}

template <int R>
void dot_rows(TensorType type, const RowSet& rows, const VectorOperand& v) {
  for (int r = 0; r < R; ++r) {
    const uint8_t* row = rows.w + r * rows.w_stride;
    float sum = 0.f;
    if (is_quantized(type)) {
      const int64_t block_bytes = tensor_type_info(type).block_bytes;
      for (int64_t b = 0; b < v.cols / kQuantBlock; ++b) {
        int32_t dot = 0;
        for (int64_t k = 0; k < kQuantBlock; ++k)
          dot += quant_value(type, row, b * kQuantBlock + k) * v.xq.qs[b * kQuantBlock + k];
        sum += fp16_to_fp32(load_u16(row + b * block_bytes)) * v.xq.d[b] * static_cast<float>(dot);
      }
    } else {
      for (int64_t j = 0; j < v.cols; ++j) sum += row_element(type, row, j) * v.x[j];
    }
    rows.y[r * rows.y_stride] = sum;
  }
}

#endif

// Rows [r0, r1) of one matrix as four long sequential streams: the range is cut into four
// equal spans and the kernel walks row i of every span together. (Four adjacent rows instead
// would be four short streams, 1-8 KiB each, that the hardware prefetcher never gets ahead of:
// Q4_0 rows of 2048 columns read at a third of the speed that way.)
void run_rows(const MatrixOperand& m, int64_t r0, int64_t r1, const VectorOperand& v) {
  const int64_t span = (r1 - r0) / kStreams;
  for (int64_t i = 0; i < span; ++i)
    dot_rows<kStreams>(m.type, {m.W + (r0 + i) * m.row_bytes, span * m.row_bytes, m.y + r0 + i, span}, v);
  for (int64_t r = r0 + kStreams * span; r < r1; ++r)
    dot_rows<1>(m.type, {m.W + r * m.row_bytes, m.row_bytes, m.y + r, 1}, v);
}

// The first row of a matrix, whose bytes start at `prefix` in the concatenation of all
// matrices, that belongs to the part starting at byte `cut`. Monotone in `cut`, so
// consecutive parts tile each matrix exactly.
int64_t row_at_cut(const MatrixOperand& m, uint64_t prefix, uint64_t cut) {
  if (cut <= prefix) return 0;
  const uint64_t offset = cut - prefix;
  if (offset >= static_cast<uint64_t>(m.rows * m.row_bytes)) return m.rows;
  return static_cast<int64_t>(offset / static_cast<uint64_t>(m.row_bytes));
}

struct ActivationScratch {
  std::vector<int8_t> qs;
  std::vector<float> d;
};

// x quantised to Q8_0 into the calling thread's scratch, which only grows.
ActivationQ8 quantize_activation(const float* x, int64_t cols) {
  thread_local ActivationScratch scratch;
  if (scratch.qs.size() < static_cast<size_t>(cols)) {
    scratch.qs.resize(static_cast<size_t>(cols));
    scratch.d.resize(static_cast<size_t>(cols / kQuantBlock));
  }
  quantize_activation_q8(x, cols, scratch.qs.data(), scratch.d.data());
  return {scratch.qs.data(), scratch.d.data()};
}

void run_matrices(const MatrixOperand* matrices, int n_matrices, const float* x, int64_t cols, ThreadPool* pool) {
  if (cols == 0) {
    for (int i = 0; i < n_matrices; ++i)
      for (int64_t r = 0; r < matrices[i].rows; ++r) matrices[i].y[r] = 0.f;
    return;
  }
  VectorOperand v{x, {nullptr, nullptr}, cols};
  uint64_t total_bytes = 0;
  for (int i = 0; i < n_matrices; ++i) {
    total_bytes += static_cast<uint64_t>(matrices[i].rows * matrices[i].row_bytes);
    if (is_quantized(matrices[i].type) && !v.xq.qs) v.xq = quantize_activation(x, cols);
  }
  const int parts = pool && total_bytes >= kMinParallelBytes ? pool->size() : 1;
  const auto run_part = [&](int part) {
    const uint64_t begin = total_bytes * static_cast<uint64_t>(part) / static_cast<uint64_t>(parts);
    const uint64_t end = total_bytes * static_cast<uint64_t>(part + 1) / static_cast<uint64_t>(parts);
    uint64_t prefix = 0;
    for (int i = 0; i < n_matrices; ++i) {
      const MatrixOperand& m = matrices[i];
      run_rows(m, row_at_cut(m, prefix, begin), row_at_cut(m, prefix, end), v);
      prefix += static_cast<uint64_t>(m.rows * m.row_bytes);
    }
  };
  if (parts == 1) return run_part(0);
  pool->parallel_for(parts, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t part = begin; part < end; ++part) run_part(static_cast<int>(part));
  });
}

}  // namespace

void matvec(TensorType type, const void* W, int64_t rows, int64_t cols, const float* x, float* y, ThreadPool* pool) {
  const MatrixOperand m{type, static_cast<const uint8_t*>(W), rows, checked_row_bytes("matvec", type, rows, cols), y};
  run_matrices(&m, 1, x, cols, pool);
}

void matvec_multi(const MatvecJob* jobs, int n_jobs, int64_t cols, const float* x, ThreadPool* pool) {
  constexpr int kMaxJobs = 16;
  if (n_jobs < 0 || n_jobs > kMaxJobs)
    fail(ErrorCode::InvalidArgument, "matvec_multi: {} jobs, expected 0 to {}", n_jobs, kMaxJobs);
  MatrixOperand matrices[kMaxJobs];
  for (int i = 0; i < n_jobs; ++i) {
    const MatvecJob& job = jobs[i];
    matrices[i] = {job.type, static_cast<const uint8_t*>(job.W), job.rows,
                   checked_row_bytes("matvec_multi", job.type, job.rows, cols), job.y};
  }
  run_matrices(matrices, n_jobs, x, cols, pool);
}

const char* compiled_isa() { return OPHTHA_KERNELS_AVX2 ? "avx2+fma+f16c" : "portable"; }

bool cpu_supports_compiled_isa() {
#if OPHTHA_KERNELS_AVX2
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
  return true;
#endif
}

}  // namespace ophtha::kernels
