// Rotary position embedding and causal grouped-query attention over the KV cache.
#pragma once
#include <cstdint>
#include <vector>

#include "ophtha/llama.hpp"

namespace ophtha::llm {

// cos/sin of every rotated pair at positions [pos0, pos0 + n_tokens):
// angle(p, i) = p · theta^(−2i / head_dim), i in [0, head_dim/2).
struct RopeTable {
  std::vector<float> cos;  // (n_tokens, head_dim / 2)
  std::vector<float> sin;  // (n_tokens, head_dim / 2)
  void compute(int64_t pos0, int64_t n_tokens, int64_t head_dim, float theta);
  // The same for arbitrary positions: row t at positions[t].
  void compute_at(const int64_t* positions, int64_t n_tokens, int64_t head_dim, float theta);
};

// Rotates `n_heads` heads of each of n_tokens rows of `x` (n_tokens, row_stride) in place.
void apply_rope(float* x, int64_t n_tokens, int64_t row_stride, int64_t n_heads, int64_t head_dim,
                RopeLayout layout, const RopeTable& table);

// out (n_tokens, n_heads·head_dim) = softmax(q·kᵀ/√head_dim, causal) · v, where token t sits at
// position pos0 + t and attends to cache rows [0, pos0 + t]. Query head h reads KV head
// h / (n_heads / n_kv_heads). k_cache, v_cache: (context, kv_dim) of one layer.
// scores: scratch of at least pool.size() × (pos0 + n_tokens) floats.
void causal_attention(const float* q, const float* k_cache, const float* v_cache, int64_t pos0,
                      int64_t n_tokens, const LlamaConfig& config, float* out, ThreadPool& pool,
                      std::vector<float>& scores);

// Keys and values of consecutive positions: k, v (n, kv_dim) rows of a cache.
struct KeySpan {
  const float* k = nullptr;
  const float* v = nullptr;
  int64_t n = 0;
};

// Attention of branch rows (LlamaSession::forward_branches): row r (q row r of (n_rows, n_heads·head_dim))
// attends to the shared prefix and then to its own keys, own[r] (its current token last); out as q.
// Each row's scores, softmax and sums run in the same order as causal_attention over the same keys
// held in one cache, so the results are identical.
void branch_attention(const float* q, int64_t n_rows, const KeySpan& prefix, const KeySpan* own,
                      const LlamaConfig& config, float* out, ThreadPool& pool, std::vector<float>& scores);

}  // namespace ophtha::llm
