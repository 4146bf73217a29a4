#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <ATen/ATen.h>

#include "llm/attention.hpp"
#include "llm/cpu_threads.hpp"
#include "llm/linear.hpp"
#include "ophtha/error.hpp"
#include "ophtha/kernels.hpp"
#include "ophtha/llama.hpp"
#include "ophtha/thread_pool.hpp"

namespace ophtha {

// Activations of one forward pass over T tokens; grown on demand, reused across calls.
struct LlamaSession::Scratch {
  std::vector<float> x;        // (T, dim) residual stream
  std::vector<float> xb;       // (T, dim) normalised input / sublayer output
  std::vector<float> q;        // (T, n_heads * head_dim)
  std::vector<float> att;      // (T, n_heads * head_dim) attention output
  std::vector<float> gate;     // (T, ffn_dim)
  std::vector<float> up;       // (T, ffn_dim)
  std::vector<float> scores;   // (threads, context) attention weights
  std::vector<float> widened;  // prefill: a block of weight rows widened to f32
  llm::RopeTable rope;
};

LlamaSession::LlamaSession(std::shared_ptr<const LlamaModel> model, const LlamaSessionOptions& options)
    : model_(std::move(model)), scratch_(std::make_unique<Scratch>()) {
  if (!model_) fail(ErrorCode::InvalidArgument, "LlamaSession needs a loaded model, got null");
  const LlamaConfig& c = model_->config();
  if (options.n_threads < 0 || options.n_threads > 1024)
    fail(ErrorCode::InvalidArgument, "n_threads must be in [0, 1024], got {}", options.n_threads);
  if (options.context_length < 0 || options.context_length > c.context_length)
    fail(ErrorCode::InvalidArgument, "{}: LlamaSessionOptions::context_length must be in [0, {}] (the model's), got {}",
         model_->source(), c.context_length, options.context_length);
  context_length_ = options.context_length ? options.context_length : c.context_length;
  // The KV cache is the one allocation whose size a file chooses (through the context length):
  // refuse it before allocating when it could never fit, instead of failing inside LibTorch or
  // being killed while zeroing it.
  uint64_t kv_bytes = 2 * sizeof(float);
  for (const int64_t n : {c.n_layers, context_length_, c.kv_dim()})
    if (__builtin_mul_overflow(kv_bytes, static_cast<uint64_t>(n), &kv_bytes)) kv_bytes = UINT64_MAX;
  const uint64_t memory = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(::sysconf(_SC_PAGE_SIZE));
  const double gib = 1024.0 * 1024.0 * 1024.0;
  if (kv_bytes > memory)
    fail(ErrorCode::InvalidArgument,
         "{}: a KV cache for context_length {} needs {:.1f} GiB (2 × {} layers × {} positions × {} kv_dim × 4 B), "
         "more than this machine's {:.1f} GiB of memory; pass a smaller LlamaSessionOptions::context_length",
         model_->source(), context_length_, static_cast<double>(kv_bytes) / gib, c.n_layers, context_length_,
         c.kv_dim(), static_cast<double>(memory) / gib);
  pool_ = std::make_unique<ThreadPool>(options.n_threads ? options.n_threads : llm::available_cores());
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  try {
    k_cache_ = at::zeros({c.n_layers, context_length_, c.kv_dim()}, f32);
    v_cache_ = at::zeros({c.n_layers, context_length_, c.kv_dim()}, f32);
  } catch (const std::exception& e) {  // c10::Error or std::bad_alloc
    fail(ErrorCode::InvalidArgument, "{}: cannot allocate a KV cache of {:.1f} GiB for context_length {}: {}",
         model_->source(), static_cast<double>(kv_bytes) / gib, context_length_, e.what());
  }
}

LlamaSession::~LlamaSession() = default;

int LlamaSession::n_threads() const { return pool_->size(); }

void LlamaSession::rewind(int64_t position) {
  if (position < 0 || position > position_)
    fail(ErrorCode::InvalidArgument, "cannot rewind to position {}: the cache holds {} tokens", position, position_);
  position_ = position;
}

at::Tensor LlamaSession::forward_tokens(const std::vector<int32_t>& ids, bool all_logits) {
  const auto n = static_cast<int64_t>(ids.size());
  if (n == 0) fail(ErrorCode::InvalidArgument, "forward_tokens needs at least one token");
  std::vector<float>& x = scratch_->x;
  x.resize(static_cast<size_t>(n * model_->config().dim));
  model_->embed_tokens(ids.data(), n, x.data());
  return forward(x.data(), n, all_logits);
}

at::Tensor LlamaSession::forward_embeddings(const at::Tensor& embeddings, bool all_logits) {
  const int64_t dim = model_->config().dim;
  if (embeddings.dim() != 2 || embeddings.size(1) != dim || embeddings.size(0) == 0)
    fail(ErrorCode::InvalidArgument, "input embeddings must have shape (T >= 1, {}), got {}", dim,
         fmt::format("{}", fmt::join(embeddings.sizes(), ", ")));
  const at::Tensor e = embeddings.to(at::kFloat).contiguous();
  std::vector<float>& x = scratch_->x;
  x.assign(e.data_ptr<float>(), e.data_ptr<float>() + e.numel());
  return forward(x.data(), e.size(0), all_logits);
}

at::Tensor LlamaSession::forward(const float* x_in, int64_t T, bool all_logits) {
  const LlamaConfig& c = model_->config();
  if (position_ + T > context_length_)
    fail(ErrorCode::ContextOverflow, "{} tokens at position {} run past the context length {}", T, position_,
         context_length_);
  Scratch& s = *scratch_;
  ThreadPool& pool = *pool_;
  const int64_t dim = c.dim, q_dim = c.n_heads * c.head_dim, kv_dim = c.kv_dim();
  if (s.x.data() != x_in) s.x.assign(x_in, x_in + T * dim);
  s.xb.resize(static_cast<size_t>(T * dim));
  s.q.resize(static_cast<size_t>(T * q_dim));
  s.att.resize(static_cast<size_t>(T * q_dim));
  s.gate.resize(static_cast<size_t>(T * c.ffn_dim));
  s.up.resize(static_cast<size_t>(T * c.ffn_dim));
  s.rope.compute(position_, T, c.head_dim, c.rope_theta);

  float* x = s.x.data();
  float* xb = s.xb.data();
  auto rmsnorm_rows = [&](const float* in, const at::Tensor& weight, int64_t rows, float* out) {
    for (int64_t t = 0; t < rows; ++t)
      kernels::rmsnorm(out + t * dim, in + t * dim, weight.data_ptr<float>(), dim, c.rms_eps);
  };
  auto add_into_residual = [&](const float* delta) {
    for (int64_t i = 0; i < T * dim; ++i) x[i] += delta[i];
  };

  for (int64_t l = 0; l < c.n_layers; ++l) {
    if (abort_check_ && abort_check_())
      fail(ErrorCode::Aborted, "generation aborted by the caller at layer {} of {}", l, c.n_layers);
    const LlamaLayerWeights& w = model_->layers()[static_cast<size_t>(l)];
    float* k_layer = k_cache_.data_ptr<float>() + l * context_length_ * kv_dim;
    float* v_layer = v_cache_.data_ptr<float>() + l * context_length_ * kv_dim;
    float* k_new = k_layer + position_ * kv_dim;  // (T, kv_dim): this pass's keys go straight into the cache
    float* v_new = v_layer + position_ * kv_dim;

    rmsnorm_rows(x, w.attn_norm, T, xb);
    if (T == 1) {  // decode: one fork/join for q, k and v
      const kernels::MatvecJob jobs[] = {{w.wq.type, w.wq.data, w.wq.rows, s.q.data()},
                                         {w.wk.type, w.wk.data, w.wk.rows, k_new},
                                         {w.wv.type, w.wv.data, w.wv.rows, v_new}};
      kernels::matvec_multi(jobs, 3, dim, xb, &pool);
    } else {
      llm::linear(w.wq, xb, T, s.q.data(), pool, s.widened);
      llm::linear(w.wk, xb, T, k_new, pool, s.widened);
      llm::linear(w.wv, xb, T, v_new, pool, s.widened);
    }
    llm::apply_rope(s.q.data(), T, q_dim, c.n_heads, c.head_dim, c.rope_layout, s.rope);
    llm::apply_rope(k_new, T, kv_dim, c.n_kv_heads, c.head_dim, c.rope_layout, s.rope);
    llm::causal_attention(s.q.data(), k_layer, v_layer, position_, T, c, s.att.data(), pool, s.scores);
    llm::linear(w.wo, s.att.data(), T, xb, pool, s.widened);
    add_into_residual(xb);

    rmsnorm_rows(x, w.ffn_norm, T, xb);
    if (T == 1) {
      const kernels::MatvecJob jobs[] = {{w.w_gate.type, w.w_gate.data, w.w_gate.rows, s.gate.data()},
                                         {w.w_up.type, w.w_up.data, w.w_up.rows, s.up.data()}};
      kernels::matvec_multi(jobs, 2, dim, xb, &pool);
    } else {
      llm::linear(w.w_gate, xb, T, s.gate.data(), pool, s.widened);
      llm::linear(w.w_up, xb, T, s.up.data(), pool, s.widened);
    }
    float* gate = s.gate.data();
    const float* up = s.up.data();
    for (int64_t i = 0; i < T * c.ffn_dim; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];  // SiLU(g)·u
    llm::linear(w.w_down, gate, T, xb, pool, s.widened);
    add_into_residual(xb);
  }

  const int64_t n_out = all_logits ? T : 1;
  const float* last = x + (T - n_out) * dim;
  rmsnorm_rows(last, model_->output_norm(), n_out, xb);
  at::Tensor logits = at::empty({n_out, c.vocab_size}, at::TensorOptions().dtype(at::kFloat));
  llm::linear(model_->output_head(), xb, n_out, logits.data_ptr<float>(), pool, s.widened);
  position_ += T;
  return all_logits ? logits : logits.squeeze(0);
}

}  // namespace ophtha
