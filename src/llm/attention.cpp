#include "llm/attention.hpp"

#include <algorithm>
#include <cmath>

#include "ophtha/kernels.hpp"
#include "ophtha/thread_pool.hpp"

namespace ophtha::llm {

void RopeTable::compute(int64_t pos0, int64_t n_tokens, int64_t head_dim, float theta) {
  std::vector<int64_t> positions(static_cast<size_t>(n_tokens));
  for (int64_t t = 0; t < n_tokens; ++t) positions[static_cast<size_t>(t)] = pos0 + t;
  compute_at(positions.data(), n_tokens, head_dim, theta);
}

void RopeTable::compute_at(const int64_t* positions, int64_t n_tokens, int64_t head_dim, float theta) {
  const int64_t half = head_dim / 2;
  cos.resize(static_cast<size_t>(n_tokens * half));
  sin.resize(static_cast<size_t>(n_tokens * half));
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const double freq = std::pow(static_cast<double>(theta), -2.0 * static_cast<double>(i) / head_dim);
      const double angle = static_cast<double>(positions[t]) * freq;
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

namespace {

// One query head over the keys of `spans` in order: oh (head_dim) = softmax(qh·kᵀ·scale) · v.
// att: scratch of at least the spans' total length. The kernels round every key's terms the same
// way however the keys are split into spans, so branches and one cache give identical results.
void attend(const float* qh, const KeySpan* spans, int n_spans, int64_t kv_offset, int64_t hd, int64_t kv_dim,
            float scale, float* att, float* oh) {
  int64_t n_keys = 0;
  for (int s = 0; s < n_spans; ++s) {
    kernels::dot_rows(qh, spans[s].k + kv_offset, kv_dim, spans[s].n, hd, scale, att + n_keys);
    n_keys += spans[s].n;
  }
  float max_score = -INFINITY;
  for (int64_t j = 0; j < n_keys; ++j) max_score = std::max(max_score, att[j]);
  float sum = 0.f;
  for (int64_t j = 0; j < n_keys; ++j) {
    att[j] = std::exp(att[j] - max_score);
    sum += att[j];
  }
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < n_keys; ++j) att[j] *= inv;
  std::fill(oh, oh + hd, 0.f);
  int64_t first = 0;
  for (int s = 0; s < n_spans; first += spans[s].n, ++s)
    kernels::weighted_rows_sum(att + first, spans[s].v + kv_offset, kv_dim, spans[s].n, hd, oh);
}

// Every (row, head) of q (n_rows, n_heads·head_dim) over the key spans spans_of(row, KeySpan[2])
// names (it returns their count), split over the pool; `span` bounds any row's keys.
template <typename SpansOf>
void attend_rows(const float* q, int64_t n_rows, int64_t span, const LlamaConfig& config, float* out,
                 ThreadPool& pool, std::vector<float>& scores, const SpansOf& spans_of) {
  const int64_t hd = config.head_dim;
  const int64_t q_dim = config.n_heads * hd;
  const int64_t group = config.n_heads / config.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  scores.resize(static_cast<size_t>(pool.size() * span));
  pool.parallel_for(n_rows * config.n_heads, 1, [&](int64_t begin, int64_t end, int thread) {
    float* att = scores.data() + static_cast<int64_t>(thread) * span;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t r = item / config.n_heads, h = item % config.n_heads;
      KeySpan keys[2];
      const int n_spans = spans_of(r, keys);
      attend(q + r * q_dim + h * hd, keys, n_spans, (h / group) * hd, hd, config.kv_dim(), scale, att,
             out + r * q_dim + h * hd);
    }
  });
}

}  // namespace

void causal_attention(const float* q, const float* k_cache, const float* v_cache, int64_t pos0,
                      int64_t n_tokens, const LlamaConfig& config, float* out, ThreadPool& pool,
                      std::vector<float>& scores) {
  attend_rows(q, n_tokens, pos0 + n_tokens, config, out, pool, scores, [&](int64_t t, KeySpan* keys) {
    keys[0] = {k_cache, v_cache, pos0 + t + 1};  // causal: positions [0, pos0 + t]
    return 1;
  });
}

void branch_attention(const float* q, int64_t n_rows, const KeySpan& prefix, const KeySpan* own,
                      const LlamaConfig& config, float* out, ThreadPool& pool, std::vector<float>& scores) {
  int64_t span = 0;
  for (int64_t r = 0; r < n_rows; ++r) span = std::max(span, prefix.n + own[r].n);
  attend_rows(q, n_rows, span, config, out, pool, scores, [&](int64_t r, KeySpan* keys) {
    keys[0] = prefix;
    keys[1] = own[r];
    return 2;
  });
}

}  // namespace ophtha::llm
