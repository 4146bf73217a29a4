// What the GGUF and Hugging Face loaders share: binding mapped tensors as weights, with
// shape checks whose errors name the file, the tensor and both shapes.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/llama.hpp"

namespace ophtha {

// A tensor as a file describes it, before it becomes a weight.
struct StoredTensor {
  std::string file;  // the file that holds it, for messages
  std::string name;  // as that file names it
  TensorType type;
  std::vector<int64_t> shape;  // PyTorch order: (rows, cols) for a matrix
  const void* data;
  uint64_t nbytes;
};

struct LlamaModelBuilder {
  static std::shared_ptr<const LlamaModel> from_gguf(const std::string& path, const LlamaLoadOptions& options);
  static std::shared_ptr<const LlamaModel> from_hf(const std::string& dir, const LlamaLoadOptions& options);

  // Binds a (rows, cols) matrix in place; `owner` is kept alive by the returned view.
  // Error(InvalidFormat) naming the file, the tensor and both shapes when the shape differs.
  static WeightMatrix matrix(const StoredTensor& t, int64_t rows, int64_t cols, const std::shared_ptr<const void>& owner);
  // Copies a (n) norm vector, widened to f32; Error(Unsupported) for a quantised one.
  static at::Tensor vector(const StoredTensor& t, int64_t n);

  // Fills every weight of `model` through `find` (canonical GGUF-style name → tensor, or null
  // when absent), checking every shape against model.config_. Reports progress per layer.
  // `file` and `file_name_of` (canonical name → the name the file uses) word the error for a
  // missing tensor.
  template <typename Find>
  static void bind_all(LlamaModel& model, const std::string& file, const std::shared_ptr<const void>& owner,
                       const LlamaLoadOptions& options, Find&& find,
                       const std::function<std::string(const std::string&)>& file_name_of);

  static LlamaModel& mut(const std::shared_ptr<LlamaModel>& m) { return *m; }
  static std::shared_ptr<LlamaModel> make() { return std::shared_ptr<LlamaModel>(new LlamaModel()); }
  static void set(LlamaModel& m, std::string source, LlamaConfig config, std::shared_ptr<const Tokenizer> tokenizer,
                  std::shared_ptr<const void> owner) {
    m.source_ = std::move(source);
    m.config_ = config;
    m.tokenizer_ = std::move(tokenizer);
    m.weights_owner_ = std::move(owner);
  }
};

// Canonical (GGUF) tensor names, the one table both loaders map onto.
std::string layer_tensor_name(int64_t layer, const char* part);  // "blk.{layer}.{part}.weight"

template <typename Find>
void LlamaModelBuilder::bind_all(LlamaModel& model, const std::string& file, const std::shared_ptr<const void>& owner,
                                 const LlamaLoadOptions& options, Find&& find,
                                 const std::function<std::string(const std::string&)>& file_name_of) {
  const LlamaConfig& c = model.config_;
  auto require = [&](const std::string& name) -> StoredTensor {
    const StoredTensor* t = find(name);
    if (!t) fail(ErrorCode::InvalidFormat, "{}: tensor '{}' is missing", file, file_name_of(name));
    return *t;
  };
  auto report = [&](int64_t done) {
    if (options.progress && !options.progress(static_cast<float>(done) / static_cast<float>(c.n_layers + 1)))
      fail(ErrorCode::Aborted, "{}: loading cancelled by the progress callback", file);
  };
  model.token_embd_ = matrix(require("token_embd.weight"), c.vocab_size, c.dim, owner);
  model.output_norm_ = vector(require("output_norm.weight"), c.dim);
  if (!c.tied_output) model.output_ = matrix(require("output.weight"), c.vocab_size, c.dim, owner);
  const int64_t q_dim = c.n_heads * c.head_dim;
  model.layers_.resize(static_cast<size_t>(c.n_layers));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    report(l);
    LlamaLayerWeights& w = model.layers_[static_cast<size_t>(l)];
    auto name = [&](const char* part) { return layer_tensor_name(l, part); };
    w.attn_norm = vector(require(name("attn_norm")), c.dim);
    w.wq = matrix(require(name("attn_q")), q_dim, c.dim, owner);
    w.wk = matrix(require(name("attn_k")), c.kv_dim(), c.dim, owner);
    w.wv = matrix(require(name("attn_v")), c.kv_dim(), c.dim, owner);
    w.wo = matrix(require(name("attn_output")), c.dim, q_dim, owner);
    w.ffn_norm = vector(require(name("ffn_norm")), c.dim);
    w.w_gate = matrix(require(name("ffn_gate")), c.ffn_dim, c.dim, owner);
    w.w_up = matrix(require(name("ffn_up")), c.ffn_dim, c.dim, owner);
    w.w_down = matrix(require(name("ffn_down")), c.dim, c.ffn_dim, owner);
  }
  report(c.n_layers + 1);
}

}  // namespace ophtha
