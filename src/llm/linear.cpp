#include "llm/linear.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

#include "llm/cpu_threads.hpp"
#include "ophtha/kernels.hpp"
#include "ophtha/tensor_type.hpp"
#include "ophtha/thread_pool.hpp"

namespace ophtha::llm {
namespace {

at::Tensor float_view(const float* data, int64_t rows, int64_t cols) {
  return at::from_blob(const_cast<float*>(data), {rows, cols}, at::TensorOptions().dtype(at::kFloat));
}

// Rows widened to f32 per block: ~8 MiB, large enough for an efficient GEMM, small enough
// to stay far below the f32 size of the matrix.
int64_t widen_block_rows(int64_t rows, int64_t cols) {
  const int64_t target = (8 << 20) / (4 * std::max<int64_t>(cols, 1));
  return std::clamp<int64_t>(target / 16 * 16, 16, rows);
}

}  // namespace

void linear(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            std::vector<float>& scratch) {
  if (n_tokens < kBatchedLinearMinTokens) {
    for (int64_t t = 0; t < n_tokens; ++t)
      kernels::matvec(w.type, w.data, w.rows, w.cols, x + t * w.cols, y + t * w.rows, &pool);
    return;
  }
  if (kernels::gemm(w.type, w.data, w.rows, w.cols, x, n_tokens, y, &pool)) return;
  const bool quantized = w.type == TensorType::Q8_0 || w.type == TensorType::Q4_0;
  // Quantised rows see x through Q8_0, as in decoding, so prefill and decode agree.
  thread_local std::vector<float> rounded;
  if (quantized) {
    rounded.resize(static_cast<size_t>(n_tokens * w.cols));
    kernels::round_through_q8_0(x, n_tokens, w.cols, rounded.data());
  }
  const float* xq = quantized ? rounded.data() : x;
  claim_blas_threads(pool.size());
  pool.park();  // our workers sleep while OpenBLAS's threads own the cores
  const at::Tensor xs = float_view(xq, n_tokens, w.cols);
  at::Tensor ys = float_view(y, n_tokens, w.rows);
  if (w.type == TensorType::F32) {
    at::mm_out(ys, xs, float_view(static_cast<const float*>(w.data), w.rows, w.cols).t());
    return;
  }
  const int64_t block = widen_block_rows(w.rows, w.cols);
  scratch.resize(static_cast<size_t>(block * w.cols));
  for (int64_t r0 = 0; r0 < w.rows; r0 += block) {
    const int64_t n = std::min(block, w.rows - r0);
    kernels::dequantize_rows(w.type, w.data, r0, n, w.cols, scratch.data(), &pool);
    pool.park();
    ys.narrow(1, r0, n).copy_(at::mm(xs, float_view(scratch.data(), n, w.cols).t()));
  }
}

}  // namespace ophtha::llm
