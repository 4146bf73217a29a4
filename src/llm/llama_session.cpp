#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>

#include <ATen/ATen.h>

#include "llm/attention.hpp"
#include "llm/cpu_threads.hpp"
#include "llm/linear.hpp"
#include "ophtha/error.hpp"
#include "ophtha/kernels.hpp"
#include "ophtha/llama.hpp"
#include "ophtha/thread_pool.hpp"

namespace ophtha {
namespace {

// Bytes of a K and a V cache of `shape` f32 elements; Error(InvalidArgument) naming `what` and
// `advice` when they exceed physical memory (or overflow).
uint64_t checked_kv_bytes(const LlamaModel& model, std::initializer_list<int64_t> shape, const std::string& what,
                          const char* advice) {
  uint64_t bytes = 2 * sizeof(float);
  for (const int64_t n : shape)
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(n), &bytes)) bytes = UINT64_MAX;
  const uint64_t memory = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(::sysconf(_SC_PAGE_SIZE));
  const double gib = 1024.0 * 1024.0 * 1024.0;
  if (bytes > memory)
    fail(ErrorCode::InvalidArgument,
         "{}: a KV cache for {} needs {:.1f} GiB (2 × {} × 4 B), more than this machine's {:.1f} GiB of memory; {}",
         model.source(), what, static_cast<double>(bytes) / gib, fmt::format("{}", fmt::join(shape, " × ")),
         static_cast<double>(memory) / gib, advice);
  return bytes;
}

}  // namespace

// Where one pass's keys and values go and how its rows attend (run_layers).
struct LlamaSession::PassHooks {
  // Layer l's keys and values of the pass's rows: (T, kv_dim) each, contiguous.
  std::function<std::pair<float*, float*>(int64_t l)> kv_rows;
  // Attention of layer l once kv_rows(l) hold the rows' RoPE'd keys: q (T, q_dim) → out (T, q_dim).
  std::function<void(int64_t l, const float* q, float* out)> attend;
};

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
  std::vector<float> k_rows;   // (n, kv_dim) branches: this pass's keys before they join their branch
  std::vector<float> v_rows;   // (n, kv_dim)
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
  const uint64_t kv_bytes = checked_kv_bytes(*model_, {c.n_layers, context_length_, c.kv_dim()},
                                             fmt::format("context_length {}", context_length_),
                                             "pass a smaller LlamaSessionOptions::context_length");
  const double gib = 1024.0 * 1024.0 * 1024.0;
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
  end_branches();
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
  end_branches();  // their prefix is the main sequence, which this pass extends
  Scratch& s = *scratch_;
  if (s.x.data() != x_in) s.x.assign(x_in, x_in + T * c.dim);
  s.rope.compute(position_, T, c.head_dim, c.rope_theta);
  const int64_t kv_dim = c.kv_dim();
  auto layer_k = [&](int64_t l) { return k_cache_.data_ptr<float>() + l * context_length_ * kv_dim; };
  auto layer_v = [&](int64_t l) { return v_cache_.data_ptr<float>() + l * context_length_ * kv_dim; };
  PassHooks hooks;
  // This pass's keys go straight into the cache at [position_, position_ + T).
  hooks.kv_rows = [&](int64_t l) { return std::make_pair(layer_k(l) + position_ * kv_dim, layer_v(l) + position_ * kv_dim); };
  hooks.attend = [&](int64_t l, const float* q, float* out) {
    llm::causal_attention(q, layer_k(l), layer_v(l), position_, T, c, out, *pool_, s.scores);
  };
  at::Tensor logits = run_layers(T, all_logits ? T : 1, hooks);
  position_ += T;
  return all_logits ? logits : logits.squeeze(0);
}

void LlamaSession::start_branches(int n_branches, int64_t capacity) {
  const LlamaConfig& c = model_->config();
  if (n_branches < 1 || n_branches > kMaxBranches)
    fail(ErrorCode::InvalidArgument, "start_branches: n_branches must be in [1, {}], got {}", kMaxBranches, n_branches);
  if (capacity < 0 || position_ + capacity > context_length_)
    fail(ErrorCode::InvalidArgument,
         "start_branches: capacity must be in [0, {}] (the context length {} less the {} tokens held), got {}",
         context_length_ - position_, context_length_, position_, capacity);
  checked_kv_bytes(*model_, {c.n_layers, n_branches, capacity, c.kv_dim()},
                   fmt::format("{} branches of {} tokens", n_branches, capacity), "start fewer or shorter branches");
  const auto elements = static_cast<size_t>(c.n_layers * n_branches * capacity * c.kv_dim());
  try {
    if (branch_elements_ < elements) {  // grow: nothing held is kept, so nothing is copied
      branch_k_.reset(), branch_v_.reset(), branch_elements_ = 0;
      branch_k_.reset(new float[elements]);
      branch_v_.reset(new float[elements]);
      branch_elements_ = elements;
    }
  } catch (const std::bad_alloc&) {
    end_branches();
    fail(ErrorCode::InvalidArgument, "{}: cannot allocate the cache of {} branches of {} tokens", model_->source(),
         n_branches, capacity);
  }
  branch_base_ = position_;
  branch_capacity_ = capacity;
  branch_tokens_.assign(static_cast<size_t>(n_branches), 0);
}

int64_t LlamaSession::branch_position(int branch) const {
  if (branch < 0 || branch >= n_branches())
    fail(ErrorCode::InvalidArgument, "branch {} does not exist: {} branches are started", branch, n_branches());
  return branch_base_ + branch_tokens_[static_cast<size_t>(branch)];
}

at::Tensor LlamaSession::forward_branches(const std::vector<int32_t>& branches, const std::vector<int32_t>& ids) {
  const LlamaConfig& c = model_->config();
  const auto n = static_cast<int64_t>(branches.size());
  if (n_branches() == 0) fail(ErrorCode::InvalidArgument, "forward_branches: no branches are started (start_branches)");
  if (n == 0 || ids.size() != branches.size())
    fail(ErrorCode::InvalidArgument, "forward_branches needs one id per listed branch and at least one, got {} ids for {} branches",
         ids.size(), branches.size());
  std::vector<bool> listed(static_cast<size_t>(n_branches()), false);
  std::vector<int64_t> positions(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int32_t b = branches[static_cast<size_t>(i)];
    if (b < 0 || b >= n_branches())
      fail(ErrorCode::InvalidArgument, "forward_branches: branch {} (entry {}) does not exist: {} branches are started", b, i,
           n_branches());
    if (listed[static_cast<size_t>(b)]) fail(ErrorCode::InvalidArgument, "forward_branches: branch {} is listed twice", b);
    listed[static_cast<size_t>(b)] = true;
    if (branch_tokens_[static_cast<size_t>(b)] >= branch_capacity_)
      fail(ErrorCode::ContextOverflow, "branch {} is full: it holds {} tokens after the {} it shares (capacity {})", b,
           branch_tokens_[static_cast<size_t>(b)], branch_base_, branch_capacity_);
    positions[static_cast<size_t>(i)] = branch_base_ + branch_tokens_[static_cast<size_t>(b)];
  }
  Scratch& s = *scratch_;
  const int64_t kv_dim = c.kv_dim();
  s.x.resize(static_cast<size_t>(n * c.dim));
  model_->embed_tokens(ids.data(), n, s.x.data());
  s.rope.compute_at(positions.data(), n, c.head_dim, c.rope_theta);
  s.k_rows.resize(static_cast<size_t>(n * kv_dim));
  s.v_rows.resize(static_cast<size_t>(n * kv_dim));
  std::vector<llm::KeySpan> own(static_cast<size_t>(n));
  const int64_t layer_stride = static_cast<int64_t>(n_branches()) * branch_capacity_ * kv_dim;
  PassHooks hooks;
  hooks.kv_rows = [&](int64_t) { return std::make_pair(s.k_rows.data(), s.v_rows.data()); };
  hooks.attend = [&](int64_t l, const float* q, float* out) {
    for (int64_t i = 0; i < n; ++i) {  // each row's key and value after its branch's own
      const int64_t b = branches[static_cast<size_t>(i)];
      float* k = branch_k_.get() + l * layer_stride + b * branch_capacity_ * kv_dim;
      float* v = branch_v_.get() + l * layer_stride + b * branch_capacity_ * kv_dim;
      const int64_t held = branch_tokens_[static_cast<size_t>(b)];
      std::memcpy(k + held * kv_dim, s.k_rows.data() + i * kv_dim, static_cast<size_t>(kv_dim) * sizeof(float));
      std::memcpy(v + held * kv_dim, s.v_rows.data() + i * kv_dim, static_cast<size_t>(kv_dim) * sizeof(float));
      own[static_cast<size_t>(i)] = {k, v, held + 1};
    }
    const int64_t offset = l * context_length_ * kv_dim;
    const llm::KeySpan prefix{k_cache_.data_ptr<float>() + offset, v_cache_.data_ptr<float>() + offset, branch_base_};
    llm::branch_attention(q, n, prefix, own.data(), c, out, *pool_, s.scores);
  };
  at::Tensor logits = run_layers(n, n, hooks);
  for (const int32_t b : branches) ++branch_tokens_[static_cast<size_t>(b)];
  return logits;
}

// The transformer over the T rows in scratch x (positions in scratch rope); logits of the last n_out.
at::Tensor LlamaSession::run_layers(int64_t T, int64_t n_out, const PassHooks& hooks) {
  const LlamaConfig& c = model_->config();
  Scratch& s = *scratch_;
  ThreadPool& pool = *pool_;
  const int64_t dim = c.dim, q_dim = c.n_heads * c.head_dim, kv_dim = c.kv_dim();
  s.xb.resize(static_cast<size_t>(T * dim));
  s.q.resize(static_cast<size_t>(T * q_dim));
  s.att.resize(static_cast<size_t>(T * q_dim));
  s.gate.resize(static_cast<size_t>(T * c.ffn_dim));
  s.up.resize(static_cast<size_t>(T * c.ffn_dim));

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
    const auto [k_new, v_new] = hooks.kv_rows(l);  // (T, kv_dim) each

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
    hooks.attend(l, s.q.data(), s.att.data());
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

  const float* last = x + (T - n_out) * dim;
  rmsnorm_rows(last, model_->output_norm(), n_out, xb);
  at::Tensor logits = at::empty({n_out, c.vocab_size}, at::TensorOptions().dtype(at::kFloat));
  llm::linear(model_->output_head(), xb, n_out, logits.data_ptr<float>(), pool, s.widened);
  return logits;
}

}  // namespace ophtha
