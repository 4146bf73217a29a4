// TrainableLlama: initialisation, the differentiable forward pass, LoRA adapters, the loss.
#include <cmath>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "ophtha/error.hpp"
#include "ophtha/random.hpp"
#include "ophtha/train_llama.hpp"

namespace ophtha {
namespace {

constexpr LlamaLinear kAllLinears[] = {LlamaLinear::Q,    LlamaLinear::K,  LlamaLinear::V,   LlamaLinear::O,
                                       LlamaLinear::Gate, LlamaLinear::Up, LlamaLinear::Down};

// State-dict module name of a block's linear layer.
const char* hf_module(LlamaLinear linear) {
  switch (linear) {
    case LlamaLinear::Q: return "self_attn.q_proj";
    case LlamaLinear::K: return "self_attn.k_proj";
    case LlamaLinear::V: return "self_attn.v_proj";
    case LlamaLinear::O: return "self_attn.o_proj";
    case LlamaLinear::Gate: return "mlp.gate_proj";
    case LlamaLinear::Up: return "mlp.up_proj";
    case LlamaLinear::Down: return "mlp.down_proj";
  }
  return "";
}

// (rows, cols) f32 with every value drawn from `rng` ~ N(0, std²).
at::Tensor drawn(Random rng, std::vector<int64_t> shape, double std) {
  at::Tensor t = at::empty(shape, at::kFloat);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = static_cast<float>(rng.normal(0.0, std));
  return t;
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  return x * at::rsqrt(x.pow(2).mean(-1, true) + eps) * weight;
}

// cos, sin (T, head_dim / 2) of angle t · theta^(−2i / head_dim), computed in double as the engine does.
std::pair<at::Tensor, at::Tensor> rope_table(int64_t T, int64_t head_dim, double theta) {
  const int64_t half = head_dim / 2;
  at::Tensor cos = at::empty({T, half}, at::kFloat), sin = at::empty({T, half}, at::kFloat);
  float* c = cos.data_ptr<float>();
  float* s = sin.data_ptr<float>();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(t) * std::pow(theta, -2.0 * static_cast<double>(i) / head_dim);
      c[t * half + i] = static_cast<float>(std::cos(angle));
      s[t * half + i] = static_cast<float>(std::sin(angle));
    }
  return {cos, sin};
}

// x [B, heads, T, head_dim] in the rotate-half layout: pairs (i, i + head_dim / 2).
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor a = x.narrow(-1, 0, half), b = x.narrow(-1, half, half);
  return at::cat({a * cos - b * sin, a * sin + b * cos}, -1);
}

}  // namespace

const char* llama_linear_name(LlamaLinear linear) {
  switch (linear) {
    case LlamaLinear::Q: return "q";
    case LlamaLinear::K: return "k";
    case LlamaLinear::V: return "v";
    case LlamaLinear::O: return "o";
    case LlamaLinear::Gate: return "gate";
    case LlamaLinear::Up: return "up";
    case LlamaLinear::Down: return "down";
  }
  return "?";
}

LlamaLinear parse_llama_linear(const std::string& name) {
  for (LlamaLinear linear : kAllLinears) {
    const std::string short_name = llama_linear_name(linear);
    if (name == short_name || name == short_name + "_proj") return linear;
  }
  fail(ErrorCode::InvalidArgument, "'{}' is not a linear layer of a LLaMA block: expected one of q, k, v, o, gate, up, down",
       name);
}

TrainableLlama::Linear& TrainableLlama::Block::linear(LlamaLinear which) {
  return const_cast<Linear&>(static_cast<const Block&>(*this).linear(which));
}

const TrainableLlama::Linear& TrainableLlama::Block::linear(LlamaLinear which) const {
  switch (which) {
    case LlamaLinear::Q: return q;
    case LlamaLinear::K: return k;
    case LlamaLinear::V: return v;
    case LlamaLinear::O: return o;
    case LlamaLinear::Gate: return gate;
    case LlamaLinear::Up: return up;
    case LlamaLinear::Down: return down;
  }
  return q;
}

TrainableLlama TrainableLlama::random(const LlamaConfig& config, std::shared_ptr<const Tokenizer> tokenizer,
                                      uint64_t seed, double init_std) {
  config.validate("config");
  if (!tokenizer || tokenizer->n_vocab() != config.vocab_size)
    fail(ErrorCode::InvalidArgument, "config: vocab_size is {} but the tokenizer has {} pieces", config.vocab_size,
         tokenizer ? tokenizer->n_vocab() : 0);
  if (!(init_std > 0.0)) fail(ErrorCode::InvalidArgument, "config: init_std is {}, expected > 0", init_std);
  TrainableLlama m;
  m.config_ = config;
  m.config_.rope_layout = RopeLayout::HalfSplit;
  m.tokenizer_ = std::move(tokenizer);
  const Random root(seed);
  uint64_t tag = 0;  // one stream per matrix, in network order
  const int64_t d = config.dim, q_dim = config.n_heads * config.head_dim, kv = config.kv_dim(), f = config.ffn_dim;
  m.token_embd_ = drawn(root.fork(tag++), {config.vocab_size, d}, init_std);
  for (int64_t l = 0; l < config.n_layers; ++l) {
    Block b;
    b.attn_norm = at::ones({d}, at::kFloat);
    b.q.weight = drawn(root.fork(tag++), {q_dim, d}, init_std);
    b.k.weight = drawn(root.fork(tag++), {kv, d}, init_std);
    b.v.weight = drawn(root.fork(tag++), {kv, d}, init_std);
    b.o.weight = drawn(root.fork(tag++), {d, q_dim}, init_std);
    b.ffn_norm = at::ones({d}, at::kFloat);
    b.gate.weight = drawn(root.fork(tag++), {f, d}, init_std);
    b.up.weight = drawn(root.fork(tag++), {f, d}, init_std);
    b.down.weight = drawn(root.fork(tag++), {d, f}, init_std);
    m.blocks_.push_back(std::move(b));
  }
  m.output_norm_ = at::ones({d}, at::kFloat);
  if (!config.tied_output) m.output_ = drawn(root.fork(tag++), {config.vocab_size, d}, init_std);
  return m;
}

at::Tensor TrainableLlama::embed(const at::Tensor& ids) const {
  if (ids.dim() != 2)
    fail(ErrorCode::InvalidArgument, "token ids have shape {}, expected [batch, tokens]", fmt::join(ids.sizes(), "x"));
  const at::Tensor flat = ids.to(at::kLong).reshape({-1});
  if (flat.numel() > 0) {
    const int64_t lo = flat.min().item<int64_t>(), hi = flat.max().item<int64_t>();
    if (lo < 0 || hi >= config_.vocab_size)
      fail(ErrorCode::InvalidArgument, "token id {} is outside the vocabulary [0, {})", lo < 0 ? lo : hi,
           config_.vocab_size);
  }
  return token_embd_.index_select(0, flat).view({ids.size(0), ids.size(1), config_.dim});
}

at::Tensor TrainableLlama::forward(const at::Tensor& ids) { return forward_embeddings(embed(ids)); }

void TrainableLlama::seed_dropout(uint64_t seed) {
  dropout_generator_ = at::make_generator<at::CPUGeneratorImpl>(seed);
}

at::Tensor TrainableLlama::apply(const Linear& linear, const at::Tensor& x) {
  at::Tensor y = at::linear(x, linear.weight);
  if (!linear.lora_a.defined()) return y;
  at::Tensor input = x;
  if (training_ && lora_.dropout > 0.0) {
    if (!dropout_generator_.defined()) seed_dropout(0);
    const double keep = 1.0 - lora_.dropout;
    input = x * (at::empty_like(x).bernoulli_(keep, dropout_generator_) / keep);
  }
  const double scale = lora_.alpha / static_cast<double>(lora_.rank);
  return y + at::linear(at::linear(input, linear.lora_a), linear.lora_b) * scale;
}

at::Tensor TrainableLlama::forward_embeddings(const at::Tensor& embeddings) {
  return at::linear(final_hidden(embeddings), head_weight());
}

at::Tensor TrainableLlama::masked_loss(const at::Tensor& embeddings, const at::Tensor& targets,
                                       const at::Tensor& loss_mask, double normaliser) {
  const at::Tensor hidden = final_hidden(embeddings);
  if (targets.sizes() != hidden.sizes().slice(0, 2) || loss_mask.sizes() != targets.sizes())
    fail(ErrorCode::InvalidArgument, "loss: embeddings {}, targets {}, mask {}; expected [B, T, dim], [B, T], [B, T]",
         fmt::join(embeddings.sizes(), "x"), fmt::join(targets.sizes(), "x"), fmt::join(loss_mask.sizes(), "x"));
  const at::Tensor selected = loss_mask.reshape({-1}).nonzero().squeeze(1);  // (N) flat positions
  if (selected.numel() == 0) fail(ErrorCode::InvalidArgument, "loss: the mask selects no position");
  const at::Tensor h = hidden.reshape({-1, config_.dim}).index_select(0, selected);             // (N, dim)
  const at::Tensor logits = at::linear(h, head_weight()).unsqueeze(0);                          // (1, N, vocab)
  const at::Tensor picked_targets = targets.reshape({-1}).to(at::kLong).index_select(0, selected).unsqueeze(0);
  const at::Tensor weights = loss_mask.reshape({-1}).to(at::kFloat).index_select(0, selected).unsqueeze(0);
  return next_token_loss(logits, picked_targets, weights, normaliser);
}

at::Tensor TrainableLlama::final_hidden(const at::Tensor& embeddings) {
  const LlamaConfig& c = config_;
  if (embeddings.dim() != 3 || embeddings.size(2) != c.dim || embeddings.scalar_type() != at::kFloat)
    fail(ErrorCode::InvalidArgument, "input embeddings have shape {} ({}), expected [batch, tokens, {}] f32",
         fmt::join(embeddings.sizes(), "x"), std::string(c10::toString(embeddings.scalar_type())), c.dim);
  const int64_t B = embeddings.size(0), T = embeddings.size(1);
  if (T > c.context_length)
    fail(ErrorCode::ContextOverflow, "{} tokens exceed the context length {}", T, c.context_length);
  const auto [cos, sin] = rope_table(T, c.head_dim, c.rope_theta);
  const at::Tensor causal = at::full({T, T}, -INFINITY, at::kFloat).triu(1);
  const int64_t group = c.n_heads / c.n_kv_heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.head_dim));
  at::Tensor x = embeddings;
  for (const Block& b : blocks_) {
    at::Tensor h = rms_norm(x, b.attn_norm, c.rms_eps);
    const at::Tensor q = apply_rope(apply(b.q, h).view({B, T, c.n_heads, c.head_dim}).transpose(1, 2), cos, sin);
    at::Tensor k = apply_rope(apply(b.k, h).view({B, T, c.n_kv_heads, c.head_dim}).transpose(1, 2), cos, sin);
    at::Tensor v = apply(b.v, h).view({B, T, c.n_kv_heads, c.head_dim}).transpose(1, 2);
    if (group > 1) {  // query head j reads kv head j / group
      k = k.repeat_interleave(group, 1);
      v = v.repeat_interleave(group, 1);
    }
    const at::Tensor scores = at::matmul(q, k.transpose(2, 3)) * scale + causal;  // [B, H, T, T]
    const at::Tensor attention = at::matmul(at::softmax(scores, -1), v);           // [B, H, T, hd]
    x = x + apply(b.o, attention.transpose(1, 2).reshape({B, T, c.n_heads * c.head_dim}));
    h = rms_norm(x, b.ffn_norm, c.rms_eps);
    x = x + apply(b.down, at::silu(apply(b.gate, h)) * apply(b.up, h));
  }
  return rms_norm(x, output_norm_, c.rms_eps);
}

void TrainableLlama::add_lora(const LoraOptions& options, uint64_t seed) {
  if (has_lora()) fail(ErrorCode::InvalidArgument, "the model already has LoRA adapters");
  if (options.rank < 1) fail(ErrorCode::InvalidArgument, "LoRA rank is {}, expected ≥ 1", options.rank);
  if (!(options.alpha > 0.0)) fail(ErrorCode::InvalidArgument, "LoRA alpha is {}, expected > 0", options.alpha);
  if (!(options.dropout >= 0.0 && options.dropout < 1.0))
    fail(ErrorCode::InvalidArgument, "LoRA dropout is {}, expected in [0, 1)", options.dropout);
  if (options.targets.empty()) fail(ErrorCode::InvalidArgument, "LoRA has no target modules");
  for (const auto& [name, t] : named_parameters()) t.requires_grad_(false);
  const Random root(seed);
  uint64_t tag = 0;
  for (Block& b : blocks_)
    for (LlamaLinear which : kAllLinears) {
      const bool targeted = std::find(options.targets.begin(), options.targets.end(), which) != options.targets.end();
      if (!targeted) continue;
      Linear& linear = b.linear(which);
      const int64_t out = linear.weight.size(0), in = linear.weight.size(1);
      // PEFT: kaiming_uniform_(a=√5) on A, i.e. U(±1/√in); B zeros, so training starts at the base model.
      Random rng = root.fork(tag++);
      const double bound = 1.0 / std::sqrt(static_cast<double>(in));
      linear.lora_a = at::empty({options.rank, in}, at::kFloat);
      float* a = linear.lora_a.data_ptr<float>();
      for (int64_t i = 0; i < options.rank * in; ++i) a[i] = static_cast<float>(rng.uniform(-bound, bound));
      linear.lora_b = at::zeros({out, options.rank}, at::kFloat);
      linear.lora_a.requires_grad_(true);
      linear.lora_b.requires_grad_(true);
    }
  lora_ = options;
}

void TrainableLlama::make_all_trainable() {
  if (has_lora()) fail(ErrorCode::InvalidArgument, "full fine-tuning asked of a model with LoRA adapters");
  for (const auto& [name, t] : named_parameters()) t.requires_grad_(true);
}

at::Tensor TrainableLlama::merged(const Linear& linear) const {
  if (!linear.lora_a.defined()) return linear.weight.detach();
  const double scale = lora_.alpha / static_cast<double>(lora_.rank);
  return (linear.weight + at::mm(linear.lora_b, linear.lora_a) * scale).detach();
}

void TrainableLlama::merge_lora() {
  if (!has_lora()) return;
  for (Block& b : blocks_)
    for (LlamaLinear which : kAllLinears) {
      Linear& linear = b.linear(which);
      linear.weight = merged(linear);
      linear.lora_a = at::Tensor();
      linear.lora_b = at::Tensor();
    }
  lora_ = LoraOptions{0, 0.0, 0.0, {}};
}

std::vector<std::pair<std::string, at::Tensor>> TrainableLlama::base_weights(bool merge) const {
  auto weight = [&](const Linear& l) { return merge ? merged(l) : l.weight; };
  std::vector<std::pair<std::string, at::Tensor>> out;
  out.emplace_back("model.embed_tokens.weight", token_embd_);
  for (size_t l = 0; l < blocks_.size(); ++l) {
    const Block& b = blocks_[l];
    const std::string prefix = "model.layers." + std::to_string(l) + ".";
    out.emplace_back(prefix + "input_layernorm.weight", b.attn_norm);
    for (LlamaLinear which : {LlamaLinear::Q, LlamaLinear::K, LlamaLinear::V, LlamaLinear::O})
      out.emplace_back(prefix + hf_module(which) + ".weight", weight(b.linear(which)));
    out.emplace_back(prefix + "post_attention_layernorm.weight", b.ffn_norm);
    for (LlamaLinear which : {LlamaLinear::Gate, LlamaLinear::Up, LlamaLinear::Down})
      out.emplace_back(prefix + hf_module(which) + ".weight", weight(b.linear(which)));
  }
  out.emplace_back("model.norm.weight", output_norm_);
  if (!config_.tied_output) out.emplace_back("lm_head.weight", output_);
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> TrainableLlama::named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out = base_weights(false);
  for (size_t l = 0; l < blocks_.size(); ++l)
    for (LlamaLinear which : kAllLinears) {
      const Linear& linear = blocks_[l].linear(which);
      if (!linear.lora_a.defined()) continue;
      const std::string prefix = "model.layers." + std::to_string(l) + "." + hf_module(which);
      out.emplace_back(prefix + ".lora_A.weight", linear.lora_a);
      out.emplace_back(prefix + ".lora_B.weight", linear.lora_b);
    }
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> TrainableLlama::trainable_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (auto& entry : named_parameters())
    if (entry.second.requires_grad()) out.push_back(std::move(entry));
  return out;
}

int64_t TrainableLlama::parameter_count() const {
  int64_t n = 0;
  for (const auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

at::Tensor next_token_loss(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& loss_mask,
                           double normaliser) {
  if (logits.dim() != 3 || targets.sizes() != logits.sizes().slice(0, 2) || loss_mask.sizes() != targets.sizes())
    fail(ErrorCode::InvalidArgument, "loss: logits {}, targets {}, mask {}; expected [B, T, vocab], [B, T], [B, T]",
         fmt::join(logits.sizes(), "x"), fmt::join(targets.sizes(), "x"), fmt::join(loss_mask.sizes(), "x"));
  const at::Tensor mask = loss_mask.to(at::kFloat);
  const double selected = mask.sum().item<double>();
  if (selected <= 0.0) fail(ErrorCode::InvalidArgument, "loss: the mask selects no position");
  const at::Tensor log_probs = at::log_softmax(logits.to(at::kFloat), -1);  // f32 also under bf16 autocast
  const at::Tensor picked = log_probs.gather(-1, targets.to(at::kLong).unsqueeze(-1)).squeeze(-1);  // [B, T]
  return -(picked * mask).sum() / (normaliser > 0.0 ? normaliser : selected);
}

}  // namespace ophtha
