// The LLaMA2 transformer, written from scratch on LibTorch tensors and Ophtha's CPU kernels.
//
//   tokens ─► token embedding ─► N × [ RMSNorm ─► attention (RoPE on q,k; GQA; KV cache) ─► +residual
//                                      RMSNorm ─► SwiGLU feed-forward                   ─► +residual ]
//          ─► final RMSNorm ─► output head (tied to the embedding or not) ─► logits [vocab]
//
// A LlamaModel is the loaded weights: immutable after load, shared read-only by any number of
// LlamaSessions, which may run on different threads at once. A LlamaSession holds what one
// conversation needs — the KV cache (preallocated to the context length), scratch buffers and
// a thread pool — and is used by one thread at a time.
//
// Weights come from a GGUF file (F32, F16, BF16, Q8_0, Q4_0) or a Hugging Face folder
// (config.json + model.safetensors or shards; F32, F16, BF16). Both are memory-mapped and read
// in place; nothing is copied except the tiny norm vectors. GGUF stores q/k rows in the Meta
// (interleaved RoPE) layout, Hugging Face in the rotate-half layout: instead of permuting rows,
// the model remembers which layout it holds and applies RoPE to the matching pairs
// (RopeLayout), so both files describe, and compute, the same model.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ophtha/export.h"
#include "ophtha/tensor_type.hpp"
#include "ophtha/tokenizer.hpp"

namespace ophtha {

class ThreadPool;

// Which dimensions of a head RoPE rotates together.
enum class RopeLayout {
  Interleaved,  // (2i, 2i+1): Meta checkpoints, GGUF `llama`, llama2.c
  HalfSplit,    // (i, i + head_dim/2): Hugging Face `rotate_half`
};

// Every hyper-parameter comes from the file; nothing assumes 7B.
struct OPHTHA_API LlamaConfig {
  int64_t dim = 0;             // d_model (GGUF llama.embedding_length, HF hidden_size)
  int64_t n_layers = 0;        // block_count / num_hidden_layers
  int64_t n_heads = 0;         // attention.head_count / num_attention_heads
  int64_t n_kv_heads = 0;      // attention.head_count_kv / num_key_value_heads; divides n_heads
  int64_t head_dim = 0;        // dim / n_heads
  int64_t ffn_dim = 0;         // feed_forward_length / intermediate_size
  int64_t vocab_size = 0;
  int64_t context_length = 0;  // context_length / max_position_embeddings
  float rms_eps = 1e-5f;       // attention.layer_norm_rms_epsilon / rms_norm_eps
  float rope_theta = 10000.f;  // rope.freq_base / rope_theta
  RopeLayout rope_layout = RopeLayout::Interleaved;
  bool tied_output = false;    // output head shares the token embedding

  int64_t kv_dim() const { return n_kv_heads * head_dim; }
  // Throws Error(InvalidFormat) naming `source` and the field when a value is absurd
  // (non-positive, not divisible, or larger than Ophtha's limits).
  void validate(const std::string& source) const;
};

// A [rows, cols] weight matrix in its stored element type, read in place from the mapped file.
// `tensor` is a LibTorch view of the same bytes: float/half/bfloat16 [rows, cols] for float
// types, uint8 [rows, row_bytes] for quantised ones; it keeps the mapping alive.
struct OPHTHA_API WeightMatrix {
  TensorType type = TensorType::F32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  at::Tensor tensor;

  uint64_t row_bytes() const;
  uint64_t bytes() const { return row_bytes() * static_cast<uint64_t>(rows); }
};

struct OPHTHA_API LlamaLayerWeights {
  at::Tensor attn_norm;   // (dim) f32
  WeightMatrix wq;        // (n_heads * head_dim, dim)
  WeightMatrix wk;        // (n_kv_heads * head_dim, dim)
  WeightMatrix wv;        // (n_kv_heads * head_dim, dim)
  WeightMatrix wo;        // (dim, n_heads * head_dim)
  at::Tensor ffn_norm;    // (dim) f32
  WeightMatrix w_gate;    // (ffn_dim, dim)  "w1"
  WeightMatrix w_up;      // (ffn_dim, dim)  "w3"
  WeightMatrix w_down;    // (dim, ffn_dim)  "w2"
};

struct OPHTHA_API LlamaLoadOptions {
  // Called after each tensor is bound with the fraction done in [0, 1]; returning false
  // cancels the load (Error(Aborted)). Called on the loading thread.
  std::function<bool(float)> progress;
};

class OPHTHA_API LlamaModel {
 public:
  // Loads a .gguf file or a Hugging Face folder (config.json + model.safetensors[.index.json]
  // + tokenizer.model). Errors: Io (cannot open), InvalidFormat (broken file, missing or wrongly
  // shaped tensor — the message names the file, the tensor and both shapes), Unsupported
  // (another architecture or tensor type). Thread-safe: the returned model is immutable.
  static std::shared_ptr<const LlamaModel> load(const std::string& path,
                                                const LlamaLoadOptions& options = {});

  const LlamaConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const std::string& source() const { return source_; }
  // Bytes of all weights as stored (what one decode step reads).
  uint64_t weight_bytes() const;

  // Writes the embeddings of `n` tokens into out (n, dim) f32. Error(InvalidArgument) for an
  // id outside [0, vocab_size).
  void embed_tokens(const int32_t* ids, int64_t n, float* out) const;

  const WeightMatrix& token_embedding() const { return token_embd_; }  // (vocab, dim)
  const WeightMatrix& output_head() const { return tied() ? token_embd_ : output_; }  // (vocab, dim)
  const at::Tensor& output_norm() const { return output_norm_; }  // (dim) f32
  const std::vector<LlamaLayerWeights>& layers() const { return layers_; }

 private:
  friend struct LlamaModelBuilder;
  bool tied() const { return config_.tied_output; }

  std::string source_;
  LlamaConfig config_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::shared_ptr<const void> weights_owner_;  // the parsed file(s) whose mapping every weight points into
  WeightMatrix token_embd_;   // (vocab, dim)
  at::Tensor output_norm_;    // (dim) f32
  WeightMatrix output_;       // (vocab, dim); unset when tied
  std::vector<LlamaLayerWeights> layers_;
};

struct OPHTHA_API LlamaSessionOptions {
  int n_threads = 0;           // 0 = every core this process may use
  int64_t context_length = 0;  // 0 = the model's; otherwise at most the model's
};

class OPHTHA_API LlamaSession {
 public:
  // Allocates the KV cache for the whole context up front: 2 × layers × context × kv_dim × 4 B.
  // Error(InvalidArgument) when context_length exceeds the model's or is negative, or when the
  // cache would not fit in physical memory (refused before allocating).
  explicit LlamaSession(std::shared_ptr<const LlamaModel> model, const LlamaSessionOptions& options = {});
  ~LlamaSession();
  LlamaSession(const LlamaSession&) = delete;
  LlamaSession& operator=(const LlamaSession&) = delete;

  // Runs `ids` (T tokens) at positions [position(), position() + T) in one batched pass and
  // appends them to the KV cache. Returns logits (vocab) f32 for the last token, or (T, vocab)
  // when all_logits. Error(ContextOverflow) when the tokens would run past the context
  // (nothing is appended then); Error(Aborted) when the abort check fires (nothing appended).
  at::Tensor forward_tokens(const std::vector<int32_t>& ids, bool all_logits = false);
  // Same with ready-made input embeddings (T, dim) f32 — the vision path splices image
  // embeddings into the prompt through this entry point.
  at::Tensor forward_embeddings(const at::Tensor& embeddings, bool all_logits = false);

  int64_t position() const { return position_; }
  int64_t context_length() const { return context_length_; }
  // Forgets every token from `position` on (0 = empty cache). Error(InvalidArgument) when
  // position > position(). Ends the branches, as forward_tokens and forward_embeddings do.
  void rewind(int64_t position);

  // ---- Branches: continuations of the session's tokens decoded side by side ----
  //
  // Drafts of one prompt (ReportSession's candidates) differ only after the prompt. Run one after
  // another, each decode step reads every weight for one token; run as branches, one step reads
  // them once for a token of every branch (the products become (n, dim) GEMMs).
  //
  //   main cache   [0, base)                       the prompt, shared, read in place, never copied
  //   branch b     [base, base + branch_tokens(b)) its own keys and values, in the branch cache
  //
  // Starts `n_branches` branches at base = position(), each with room for `capacity` tokens of
  // its own. The branch cache, 2 × layers × n_branches × capacity × kv_dim × 4 B, is kept and
  // reused by later calls while large enough. Error(InvalidArgument) when n_branches is outside
  // [1, kMaxBranches], capacity < 0, position() + capacity > context_length(), or the cache
  // would not fit in physical memory (refused before allocating).
  static constexpr int kMaxBranches = 256;
  void start_branches(int n_branches, int64_t capacity);
  // Runs ids[i] as the next token of branch branches[i], every listed branch in one pass, and
  // returns logits (n, vocab) f32, row i for branch branches[i]. A branch's logits equal those of
  // the same tokens run by forward_tokens after the prompt, up to the rounding of the batched
  // products (the attention is computed identically). Error(InvalidArgument) when no branches are
  // started, a branch index is out of range or repeated, ids and branches differ in length or an
  // id is outside the vocabulary; Error(ContextOverflow) when a listed branch is full;
  // Error(Aborted) when the abort check fires. Nothing is appended on error.
  at::Tensor forward_branches(const std::vector<int32_t>& branches, const std::vector<int32_t>& ids);
  int n_branches() const { return static_cast<int>(branch_tokens_.size()); }
  // Where branch b's next token goes: base + its own tokens. Error(InvalidArgument) for a bad b.
  int64_t branch_position(int branch) const;
  // Polled once per layer; returning true aborts the current forward pass.
  void set_abort_check(std::function<bool()> check) { abort_check_ = std::move(check); }
  int n_threads() const;

  const LlamaModel& model() const { return *model_; }

 private:
  struct Scratch;
  struct PassHooks;
  at::Tensor forward(const float* x, int64_t n_tokens, bool all_logits);
  at::Tensor run_layers(int64_t n_tokens, int64_t n_out, const PassHooks& hooks);
  void end_branches() { branch_tokens_.clear(); }

  std::shared_ptr<const LlamaModel> model_;
  std::unique_ptr<ThreadPool> pool_;
  int64_t context_length_ = 0;
  int64_t position_ = 0;
  at::Tensor k_cache_;  // (n_layers, context, kv_dim) f32
  at::Tensor v_cache_;  // (n_layers, context, kv_dim) f32
  // Branches (start_branches): their own keys and values after the shared prefix [0, branch_base_).
  int64_t branch_base_ = 0;
  int64_t branch_capacity_ = 0;
  std::vector<int64_t> branch_tokens_;  // (n_branches) tokens each holds
  // (n_layers, n_branches, capacity, kv_dim) each, of branch_elements_ floats, left uninitialised:
  // a branch's rows are read only after it writes them, so untouched pages are never faulted in
  // (zero-filling and copying a growing cache of ~100 MB cost the demo's reports ~0.6 s a growth).
  std::unique_ptr<float[]> branch_k_;
  std::unique_ptr<float[]> branch_v_;
  size_t branch_elements_ = 0;
  std::function<bool()> abort_check_;
  std::unique_ptr<Scratch> scratch_;
};

}  // namespace ophtha
