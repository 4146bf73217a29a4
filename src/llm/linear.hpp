// y = x · Wᵀ for a stored weight matrix, the one matrix product of the transformer.
#pragma once
#include <cstdint>
#include <vector>

#include "ophtha/llama.hpp"

namespace ophtha::llm {

// x (n_tokens, w.cols) f32 → y (n_tokens, w.rows) f32.
// Few tokens (decode): Ophtha's matvec kernels read the stored type directly, near memory
// bandwidth. Many tokens (prefill): float weights go to LibTorch's BLAS as they are; half and
// quantised weights are widened a block of rows at a time into `scratch` and multiplied there,
// so the whole matrix is never held in f32.
void linear(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            std::vector<float>& scratch);

// Tokens from which the batched (BLAS) path beats repeated matrix-vector products.
constexpr int64_t kBatchedLinearMinTokens = 4;

}  // namespace ophtha::llm
