// A LLaMA2 that can be trained: the engine's architecture (llama.hpp) written as differentiable
// ATen arithmetic on f32 parameter tensors, with LoRA adapters on its linear layers.
//
//   ids [B, T] int64 ─► token embedding [B, T, dim]        (or input embeddings [B, T, dim])
//   N × [ x += Wo · attention(RoPE(Wq·RMSNorm(x)), RoPE(Wk·…), Wv·…)   causal, GQA
//         x += Wdown · (SiLU(Wgate·RMSNorm(x)) ⊙ Wup·RMSNorm(x)) ]
//   ─► RMSNorm ─► output head (the embedding when tied) ─► logits [B, T, vocab] f32
//
// A batch is right-padded: causal attention never lets a position see the padding after it, so
// padded positions only need to be left out of the loss (next_token_loss's mask).
//
// Weights are held in the Hugging Face layout whatever file they came from: q/k rows in the
// rotate-half RoPE layout (config().rope_layout is always HalfSplit) and tensors named as in a
// LlamaForCausalLM state_dict ("model.layers.0.self_attn.q_proj.weight", ...). Loading a GGUF permutes
// its q/k rows once (Meta → HF); save_gguf permutes them back, so a GGUF → train → GGUF round trip
// gives the engine the same model.
//
// LoRA (Hu et al. 2021, as PEFT implements it): an adapted linear layer computes
//   y = x Wᵀ + (alpha / rank) · dropout(x) Aᵀ Bᵀ,   A (rank, in) ~ U(±1/√in), B (out, rank) = 0,
// with W frozen; merged weights W + (alpha / rank) B A are what the export writes.
//
// Thread safety: one thread at a time per object (forward builds an autograd graph over the
// model's own tensors; training updates them in place).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include "ophtha/export.h"
#include "ophtha/llama.hpp"
#include "ophtha/tensor_type.hpp"
#include "ophtha/tokenizer.hpp"

namespace ophtha {

// The linear layers of a block, named as PEFT's target_modules name them without "_proj".
enum class LlamaLinear { Q, K, V, O, Gate, Up, Down };

// "q", "k", "v", "o", "gate", "up", "down".
OPHTHA_API const char* llama_linear_name(LlamaLinear linear);
// Accepts "q" or "q_proj" (and so on). Error(InvalidArgument) naming the value and listing the
// accepted names otherwise.
OPHTHA_API LlamaLinear parse_llama_linear(const std::string& name);

struct OPHTHA_API LoraOptions {
  int64_t rank = 8;      // r ≥ 1
  double alpha = 16.0;   // the update is scaled by alpha / rank
  double dropout = 0.0;  // on the adapter's input, in training mode only; [0, 1)
  std::vector<LlamaLinear> targets = {LlamaLinear::Q, LlamaLinear::K, LlamaLinear::V, LlamaLinear::O};
};

class OPHTHA_API TrainableLlama {
 public:
  // Fresh weights for pre-training, the same on every platform for a seed (drawn with
  // ophtha::Random): every matrix and the embedding ~ N(0, init_std²), norm weights 1.
  // `config` is validated (Error(InvalidFormat) naming "config") and its rope_layout ignored;
  // tokenizer->n_vocab() must equal config.vocab_size (Error(InvalidArgument)).
  static TrainableLlama random(const LlamaConfig& config, std::shared_ptr<const Tokenizer> tokenizer, uint64_t seed,
                               double init_std = 0.02);
  // The weights of a model the engine loaded, widened or dequantised to f32 (q/k rows permuted to
  // the HF layout when the model holds the GGUF layout). The tokenizer is shared.
  static TrainableLlama from_model(const LlamaModel& model);
  // LlamaModel::load(path) then from_model; the errors of LlamaModel::load.
  static TrainableLlama load(const std::string& path);

  const LlamaConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const std::shared_ptr<const Tokenizer>& shared_tokenizer() const { return tokenizer_; }

  // ids [B, T] int64 (any integer type is converted) → embeddings [B, T, dim] f32.
  // Error(InvalidArgument) for another rank or an id outside [0, vocab_size).
  at::Tensor embed(const at::Tensor& ids) const;
  // ids [B, T] → logits [B, T, vocab] f32, positions 0 … T−1. Errors as embed(), and
  // Error(ContextOverflow) when T exceeds config().context_length.
  at::Tensor forward(const at::Tensor& ids);
  // Input embeddings [B, T, dim] f32 (token embeddings with image embeddings spliced in) →
  // logits [B, T, vocab]. Differentiable in the embeddings too. Error(InvalidArgument) for
  // another shape, Error(ContextOverflow) as forward().
  at::Tensor forward_embeddings(const at::Tensor& embeddings);
  // The training loss without the full logits: the transformer runs on `embeddings` [B, T, dim],
  // and the output head (vocab × dim, most of a small model's cost) only at the positions
  // loss_mask selects — prompt, image and padding positions never reach it. Same value as
  // next_token_loss(forward_embeddings(embeddings), targets, loss_mask, normaliser) (up to rounding).
  // Errors as forward_embeddings and next_token_loss.
  at::Tensor masked_loss(const at::Tensor& embeddings, const at::Tensor& targets, const at::Tensor& loss_mask,
                         double normaliser = 0.0);

  // Training mode turns LoRA dropout on; evaluation mode (the default) is deterministic.
  void set_training(bool training) { training_ = training; }
  bool training() const { return training_; }
  // Seeds the dropout masks drawn from now on (a trainer reseeds per micro-batch, so a resumed
  // run draws the same masks without storing generator state).
  void seed_dropout(uint64_t seed);

  // Adds adapters to options.targets in every block, drawn from ophtha::Random(seed); freezes every
  // base weight and makes the adapters the only tensors that require gradients.
  // Error(InvalidArgument) when adapters already exist, rank < 1, alpha ≤ 0, dropout outside [0, 1)
  // or targets is empty.
  void add_lora(const LoraOptions& options, uint64_t seed);
  bool has_lora() const { return lora_.rank > 0; }
  const LoraOptions& lora_options() const { return lora_; }
  // Full fine-tuning: every weight requires gradients. Error(InvalidArgument) when adapters exist.
  void make_all_trainable();
  // Folds every adapter into its weight (W += alpha/rank · B A) and removes the adapters.
  void merge_lora();

  // Every tensor by state_dict name, base weights then adapters ("….q_proj.lora_A.weight"
  // (rank, in), "….q_proj.lora_B.weight" (out, rank)), in network order. The tensors are the model's
  // own: a trainer updates them in place. The output head is absent when tied.
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;
  // The subset that requires gradients.
  std::vector<std::pair<std::string, at::Tensor>> trainable_parameters() const;
  int64_t parameter_count() const;

  // Writes the model (adapters merged, the model itself unchanged) as a GGUF v3 file the engine
  // loads: llama.* hyper-parameters, the tokenizer as tokenizer.ggml.*, q/k rows in the Meta
  // layout. `type` of the matrices: F32, F16, BF16 or Q8_0 (Q8_0 needs dim and ffn_dim multiples
  // of 32); norms stay F32. Atomic. Error(InvalidArgument) for another type, Error(Io).
  void save_gguf(const std::string& path, TensorType type = TensorType::F32) const;
  // Writes a Hugging Face folder (created if missing): config.json, model.safetensors (F32, F16 or
  // BF16), tokenizer.model (written from the vocabulary). Every file atomic. Errors as save_gguf.
  void save_hf(const std::string& dir, TensorType type = TensorType::F32) const;

 private:
  struct Linear {
    at::Tensor weight;          // (out, in)
    at::Tensor lora_a, lora_b;  // (rank, in), (out, rank); undefined without an adapter
  };
  struct Block {
    at::Tensor attn_norm;                 // (dim)
    Linear q, k, v, o;                    // (n_heads·hd, dim), (kv_dim, dim) ×2, (dim, n_heads·hd)
    at::Tensor ffn_norm;                  // (dim)
    Linear gate, up, down;                // (ffn, dim) ×2, (dim, ffn)
    Linear& linear(LlamaLinear which);
    const Linear& linear(LlamaLinear which) const;
  };
  TrainableLlama() = default;
  at::Tensor apply(const Linear& linear, const at::Tensor& x);
  at::Tensor merged(const Linear& linear) const;
  at::Tensor head_weight() const { return config_.tied_output ? token_embd_ : output_; }
  at::Tensor final_hidden(const at::Tensor& embeddings);  // [B, T, dim] after the output norm
  // Every base weight by name (merged with its adapter when `merge`), in network order.
  std::vector<std::pair<std::string, at::Tensor>> base_weights(bool merge) const;

  LlamaConfig config_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  at::Tensor token_embd_;   // (vocab, dim)
  std::vector<Block> blocks_;
  at::Tensor output_norm_;  // (dim)
  at::Tensor output_;       // (vocab, dim); undefined when tied
  LoraOptions lora_{0, 0.0, 0.0, {}};  // rank 0: no adapters
  bool training_ = false;
  at::Generator dropout_generator_;  // created by seed_dropout (or on first use, seed 0)
};

// Mean next-token cross-entropy over the positions the mask selects.
//   logits [B, T, vocab]; targets [B, T] int64: the token that follows each position;
//   loss_mask [B, T] f32, 1 where the target is a report token to learn, 0 for prompt, image and
//   padding positions (their targets are ignored, any value in range).
// Returns Σ mask · (−log softmax(logits)[target]) / normaliser, a scalar; normaliser 0 means
// Σ mask (the per-token mean of this batch; a trainer accumulating micro-batches passes the
// step's total instead). Error(InvalidArgument) for mismatched shapes or no selected position.
OPHTHA_API at::Tensor next_token_loss(const at::Tensor& logits, const at::Tensor& targets, const at::Tensor& loss_mask,
                                      double normaliser = 0.0);

}  // namespace ophtha
