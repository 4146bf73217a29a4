#include "llm/attention.hpp"

#include <algorithm>
#include <cmath>

#include "ophtha/kernels.hpp"
#include "ophtha/thread_pool.hpp"

namespace ophtha::llm {

void RopeTable::compute(int64_t pos0, int64_t n_tokens, int64_t head_dim, float theta) {
  const int64_t half = head_dim / 2;
  cos.resize(static_cast<size_t>(n_tokens * half));
  sin.resize(static_cast<size_t>(n_tokens * half));
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const double freq = std::pow(static_cast<double>(theta), -2.0 * static_cast<double>(i) / head_dim);
      const double angle = static_cast<double>(pos0 + t) * freq;
      cos[t * half + i] = static_cast<float>(std::cos(angle));
      sin[t * half + i] = static_cast<float>(std::sin(angle));
    }
  }
}

void apply_rope(float* x, int64_t n_tokens, int64_t row_stride, int64_t n_heads, int64_t head_dim,
                RopeLayout layout, const RopeTable& table) {
  const int64_t half = head_dim / 2;
  // Pair i of a head: Interleaved (2i, 2i+1); HalfSplit (i, i + half).
  const int64_t step = layout == RopeLayout::Interleaved ? 2 : 1;
  const int64_t partner = layout == RopeLayout::Interleaved ? 1 : half;
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* c = table.cos.data() + t * half;
    const float* s = table.sin.data() + t * half;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* head = x + t * row_stride + h * head_dim;
      for (int64_t i = 0; i < half; ++i) {
        float& a = head[i * step];
        float& b = head[i * step + partner];
        const float a0 = a, b0 = b;
        a = a0 * c[i] - b0 * s[i];
        b = a0 * s[i] + b0 * c[i];
      }
    }
  }
}

void causal_attention(const float* q, const float* k_cache, const float* v_cache, int64_t pos0,
                      int64_t n_tokens, const LlamaConfig& config, float* out, ThreadPool& pool,
                      std::vector<float>& scores) {
  const int64_t hd = config.head_dim;
  const int64_t q_dim = config.n_heads * hd;
  const int64_t kv_dim = config.kv_dim();
  const int64_t group = config.n_heads / config.n_kv_heads;
  const int64_t span = pos0 + n_tokens;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  scores.resize(static_cast<size_t>(pool.size() * span));

  pool.parallel_for(n_tokens * config.n_heads, 1, [&](int64_t begin, int64_t end, int thread) {
    float* att = scores.data() + static_cast<int64_t>(thread) * span;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / config.n_heads, h = item % config.n_heads;
      const int64_t kv_offset = (h / group) * hd;
      const float* qh = q + t * q_dim + h * hd;
      const int64_t n_keys = pos0 + t + 1;  // causal: positions [0, pos0 + t]
      float max_score = -INFINITY;
      for (int64_t j = 0; j < n_keys; ++j) {
        att[j] = kernels::dot_f32(qh, k_cache + j * kv_dim + kv_offset, hd) * scale;
        max_score = std::max(max_score, att[j]);
      }
      float sum = 0.f;
      for (int64_t j = 0; j < n_keys; ++j) {
        att[j] = std::exp(att[j] - max_score);
        sum += att[j];
      }
      float* oh = out + t * q_dim + h * hd;
      std::fill(oh, oh + hd, 0.f);
      const float inv = 1.0f / sum;
      for (int64_t j = 0; j < n_keys; ++j) kernels::axpy(att[j] * inv, v_cache + j * kv_dim + kv_offset, oh, hd);
    }
  });
}

}  // namespace ophtha::llm
