// CPU kernels of the decode hot path: matrix-vector products that read stored weights
// (F32, F16, BF16, Q8_0, Q4_0) directly, their dequantisation, the half-float conversions,
// ggml's reference quantisers, and the small per-token vector helpers.
//
// Conventions for every function here:
// - A weight matrix W is row-major [rows, cols] of `type`; each row is tensor_bytes(type, cols)
//   bytes and rows are contiguous. Q8_0 and Q4_0 rows hold cols / 32 blocks (ggml layout:
//   f16 scale, then 32 int8 or 16 bytes of nibbles), so cols must be a multiple of 32.
// - The caller owns every buffer; nothing is retained after return. Outputs must not overlap
//   inputs unless stated.
// - `pool` may be null (run on the calling thread). Functions taking a pool follow its rule:
//   one call on a pool at a time. Functions without a pool are thread-safe.
// - Invalid shapes (negative sizes, cols not a whole number of blocks) throw
//   ophtha::Error(InvalidArgument).
// - Built with OPHTHA_NATIVE (AVX2, FMA, F16C), the fast paths use those instructions; the
//   *_reference functions are portable scalar code in every build.
#pragma once
#include <cstdint>

#include "ophtha/export.h"
#include "ophtha/tensor_type.hpp"

namespace ophtha {

class ThreadPool;

namespace kernels {

// ---- matrix-vector products -------------------------------------------------------------

// y[r] = dot(W[r, :], x) for r in [0, rows). x [cols] f32, y [rows] f32; y must not overlap
// W or x. Rows are split over the pool by bytes; each thread reads its share as four
// sequential streams. F32/F16/BF16 widen W to f32 and accumulate with FMA. Q8_0/Q4_0 first
// quantise x to Q8_0 (as quantize_row_q8_0, once per call, into the calling thread's
// scratch, which only grows) and take integer block dots, as ggml does: the result differs
// from matvec_reference by the rounding of x, at most the sum over blocks of
// |W block|_1 * 0.57 * max|x block| / 127. Results are bit-identical whatever the pool size.
OPHTHA_API void matvec(TensorType type, const void* W, int64_t rows, int64_t cols, const float* x, float* y,
                       ThreadPool* pool);

// The same product in scalar code with x unquantised, accumulated in double: the
// obviously-correct reference the fast kernels are tested against. Single-threaded.
OPHTHA_API void matvec_reference(TensorType type, const void* W, int64_t rows, int64_t cols, const float* x,
                                 float* y);

// One matrix of a matvec_multi call: y [rows] = W [rows, cols] · x.
struct MatvecJob {
  TensorType type;
  const void* W;
  int64_t rows;
  float* y;
};

// Several products sharing one x [cols] (q/k/v, gate/up) in a single fork/join and one
// quantisation of x; the jobs' rows are split over the pool together, balanced by bytes, and
// the types may differ. Results are bit-identical to separate matvec calls. At most 16 jobs.
OPHTHA_API void matvec_multi(const MatvecJob* jobs, int n_jobs, int64_t cols, const float* x, ThreadPool* pool);

// ---- matrix-matrix products (prefill) ---------------------------------------------------

// Whether gemm() has a fast path for this type and row length on this CPU: AVX-512F present
// (checked at run time), cols a multiple of 32, type F32/F16/BF16/Q8_0/Q4_0. Setting the
// environment variable OPHTHA_NO_AVX512 (read once per process) turns the AVX-512 paths off,
// to test or measure the AVX2 + BLAS fallback on an AVX-512 machine.
OPHTHA_API bool gemm_supported(TensorType type, int64_t cols);

// Y [n_tokens, rows] = X [n_tokens, cols] · Wᵀ for W [rows, cols] in its stored type, rows
// split over the pool. Each block of 32 rows × 256 columns of W is widened to f32 and transposed
// into a 32 KiB panel once for all tokens, and an outer-product register tile runs 12 tokens ×
// 32 rows over it (no horizontal sums), so no f32 copy of the matrix is ever made. For
// Q8_0/Q4_0, X is quantised to Q8_0 per token first, as matvec does, and with AVX-512 VNNI
// the block dot products are exact int32 sums scaled once per block, as in ggml. Returns
// false, leaving Y untouched, when !gemm_supported(type, cols).
OPHTHA_API bool gemm(TensorType type, const void* W, int64_t rows, int64_t cols, const float* X, int64_t n_tokens,
                     float* Y, ThreadPool* pool);

// ---- dequantisation ---------------------------------------------------------------------

// dst [rows, cols] f32 = rows [row0, row0 + rows) of W, widened. Bit-identical to
// dequantize_rows_reference (every value is one exact widening or one f32 product q * d).
OPHTHA_API void dequantize_rows(TensorType type, const void* W, int64_t row0, int64_t rows, int64_t cols,
                                float* dst, ThreadPool* pool);
OPHTHA_API void dequantize_rows_reference(TensorType type, const void* W, int64_t row0, int64_t rows,
                                          int64_t cols, float* dst);

// ---- scalar conversions -----------------------------------------------------------------

// IEEE binary16 <-> binary32. fp32_to_fp16 rounds to nearest, ties to even (as F16C, numpy
// and ggml); overflow gives ±inf; NaN stays NaN (quiet, sign and top payload bits kept, as F16C).
OPHTHA_API float fp16_to_fp32(uint16_t h);
OPHTHA_API uint16_t fp32_to_fp16(float f);
// bfloat16 = the upper half of a binary32. fp32_to_bf16 rounds to nearest even, as ggml's
// ggml_compute_fp32_to_bf16 (NaN stays quiet NaN).
OPHTHA_API float bf16_to_fp32(uint16_t h);
OPHTHA_API uint16_t fp32_to_bf16(float f);

// ---- quantisation (ggml's reference quantisers, bit for bit) ----------------------------

// x [n] f32 -> n / 32 blocks at dst (n a multiple of 32), exactly as ggml's
// quantize_row_q8_0_ref: d = max|x| / 127, q = roundf(x / d) (ties away from zero).
OPHTHA_API void quantize_row_q8_0(const float* x, void* dst, int64_t n);
// As quantize_row_q4_0_ref: m = the x of largest |x| (first one on ties), d = m / -8,
// q = min(15, trunc(x / d + 8.5)); q[j] in the low nibble of byte j, q[j + 16] in the high.
// Products and sums are rounded separately (never fused into FMA), like numpy's gguf-py.
OPHTHA_API void quantize_row_q4_0(const float* x, void* dst, int64_t n);

// out [n_tokens, cols] = x rounded through Q8_0 (quantised as quantize_row_q8_0, then widened):
// what ggml and matvec feed to a Q8_0 / Q4_0 matrix. cols a multiple of 32; out may equal x.
OPHTHA_API void round_through_q8_0(const float* x, int64_t n_tokens, int64_t cols, float* out);

// ---- per-token vector helpers -----------------------------------------------------------

// out[i] = x[i] * (1 / sqrt(mean(x^2) + eps)) * weight[i], the sum of squares accumulated in
// double as ggml does. out may equal x.
OPHTHA_API void rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps);
// sum a[i] * b[i], f32 with FMA over 16 lanes.
OPHTHA_API float dot_f32(const float* a, const float* b, int64_t n);
// y[i] += a * x[i]
OPHTHA_API void axpy(float a, const float* x, float* y, int64_t n);

// ---- attention helpers: one query head against the rows of a KV cache ------------------

// out[j] = dot(q, rows + j * stride) * scale for j in [0, n): a head's query against n cached keys
// of `len` floats each, `stride` floats apart. Each dot is the same sequence of roundings
// whichever j it is and however a key range is split between calls (with AVX2 and len a multiple
// of 8: 8 FMA lanes over len, then ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7))), eight keys at a time.
OPHTHA_API void dot_rows(const float* q, const float* rows, int64_t stride, int64_t n, int64_t len, float scale,
                         float* out);
// out[d] += sum over j in [0, n) of w[j] * rows[j * stride + d], d in [0, len): the attention's
// weighted sum of cached values, one rounding (a fused multiply-add with AVX2) per term in order of
// j, so splitting a key range between calls gives the same result. out must not overlap rows.
OPHTHA_API void weighted_rows_sum(const float* w, const float* rows, int64_t stride, int64_t n, int64_t len,
                                  float* out);

// ---- build information ------------------------------------------------------------------

// "avx2+fma+f16c" when the fast paths were compiled, else "portable".
OPHTHA_API const char* compiled_isa();
// False when this build uses instructions the running CPU lacks (call before any kernel).
OPHTHA_API bool cpu_supports_compiled_isa();

}  // namespace kernels
}  // namespace ophtha
