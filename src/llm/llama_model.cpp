#include <sys/stat.h>

#include <cstring>

#include <ATen/ATen.h>

#include "llm/model_builder.hpp"
#include "ophtha/error.hpp"
#include "ophtha/kernels.hpp"

namespace ophtha {
namespace {

// Limits far above any LLaMA-family model, low enough that a lying header cannot make
// Ophtha allocate absurd KV caches or tables.
constexpr int64_t kMaxDim = 65536, kMaxLayers = 1024, kMaxHeads = 1024, kMaxFfn = 1 << 20,
                  kMaxVocab = 1 << 22, kMaxContext = 1 << 20;

// Each check names the field, then its GGUF key and its Hugging Face config.json field.
void check_range(const std::string& source, const char* field, int64_t value, int64_t hi) {
  if (value < 1 || value > hi)
    fail(ErrorCode::InvalidFormat, "{}: {} is {}, expected a value in [1, {}]", source, field, value, hi);
}

at::ScalarType torch_dtype(TensorType type) {
  switch (type) {
    case TensorType::F32: return at::kFloat;
    case TensorType::F16: return at::kHalf;
    case TensorType::BF16: return at::kBFloat16;
    default: return at::kByte;
  }
}

std::string shape_text(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

}  // namespace

void LlamaConfig::validate(const std::string& source) const {
  constexpr const char* kDim = "dim (llama.embedding_length / hidden_size)";
  constexpr const char* kHeads = "n_heads (llama.attention.head_count / num_attention_heads)";
  constexpr const char* kKvHeads = "n_kv_heads (llama.attention.head_count_kv / num_key_value_heads)";
  check_range(source, kDim, dim, kMaxDim);
  check_range(source, "n_layers (llama.block_count / num_hidden_layers)", n_layers, kMaxLayers);
  check_range(source, kHeads, n_heads, kMaxHeads);
  check_range(source, kKvHeads, n_kv_heads, kMaxHeads);
  check_range(source, "ffn_dim (llama.feed_forward_length / intermediate_size)", ffn_dim, kMaxFfn);
  check_range(source, "vocab_size (tokenizer.ggml.tokens / vocab_size)", vocab_size, kMaxVocab);
  check_range(source, "context_length (llama.context_length / max_position_embeddings)", context_length,
              kMaxContext);
  if (dim % n_heads != 0)
    fail(ErrorCode::InvalidFormat, "{}: {} = {} is not divisible by {} = {}", source, kDim, dim, kHeads, n_heads);
  if (n_heads % n_kv_heads != 0)
    fail(ErrorCode::InvalidFormat, "{}: {} = {} is not a multiple of {} = {}", source, kHeads, n_heads, kKvHeads,
         n_kv_heads);
  if (head_dim != dim / n_heads || head_dim % 2 != 0)
    fail(ErrorCode::InvalidFormat, "{}: head_dim {} must be {} / {} = {} and even", source, head_dim, kDim, kHeads,
         dim / n_heads);
  if (!(rms_eps > 0.f && rms_eps < 1.f))
    fail(ErrorCode::InvalidFormat,
         "{}: rms_eps (llama.attention.layer_norm_rms_epsilon / rms_norm_eps) is {}, expected a value in (0, 1)",
         source, rms_eps);
  if (!(rope_theta > 1.f && rope_theta < 1e12f))
    fail(ErrorCode::InvalidFormat, "{}: rope_theta (llama.rope.freq_base / rope_theta) is {}, expected a value in (1, 1e12)",
         source, rope_theta);
}

uint64_t WeightMatrix::row_bytes() const { return tensor_bytes(type, static_cast<uint64_t>(cols)).value_or(0); }

std::string layer_tensor_name(int64_t layer, const char* part) { return fmt::format("blk.{}.{}.weight", layer, part); }

WeightMatrix LlamaModelBuilder::matrix(const StoredTensor& t, int64_t rows, int64_t cols,
                                       const std::shared_ptr<const void>& owner) {
  if (t.shape != std::vector<int64_t>{rows, cols})
    fail(ErrorCode::InvalidFormat, "{}: tensor '{}' has shape {}, expected {}", t.file, t.name, shape_text(t.shape),
         shape_text({rows, cols}));
  const auto row_bytes = tensor_bytes(t.type, static_cast<uint64_t>(cols));
  if (!row_bytes)
    fail(ErrorCode::InvalidFormat, "{}: tensor '{}' of type {} has rows of {} values, not a whole number of blocks",
         t.file, t.name, tensor_type_info(t.type).name, cols);
  if (*row_bytes * static_cast<uint64_t>(rows) != t.nbytes)
    fail(ErrorCode::InvalidFormat, "{}: tensor '{}' holds {} bytes, expected {}", t.file, t.name, t.nbytes,
         *row_bytes * static_cast<uint64_t>(rows));
  WeightMatrix w;
  w.type = t.type;
  w.data = t.data;
  w.rows = rows;
  w.cols = cols;
  const bool quantised = tensor_type_info(t.type).block_elems > 1;
  const std::vector<int64_t> sizes = quantised ? std::vector<int64_t>{rows, static_cast<int64_t>(*row_bytes)}
                                               : std::vector<int64_t>{rows, cols};
  std::shared_ptr<const void> keep = owner;
  w.tensor = at::from_blob(const_cast<void*>(t.data), sizes, [keep](void*) {},
                           at::TensorOptions().dtype(torch_dtype(t.type)));
  return w;
}

at::Tensor LlamaModelBuilder::vector(const StoredTensor& t, int64_t n) {
  if (t.shape != std::vector<int64_t>{n})
    fail(ErrorCode::InvalidFormat, "{}: tensor '{}' has shape {}, expected {}", t.file, t.name, shape_text(t.shape),
         shape_text({n}));
  if (tensor_type_info(t.type).block_elems != 1)
    fail(ErrorCode::Unsupported, "{}: norm tensor '{}' is {}, expected F32, F16 or BF16", t.file, t.name,
         tensor_type_info(t.type).name);
  if (tensor_bytes(t.type, static_cast<uint64_t>(n)) != t.nbytes)
    fail(ErrorCode::InvalidFormat, "{}: tensor '{}' holds {} bytes, expected {}", t.file, t.name, t.nbytes,
         tensor_bytes(t.type, static_cast<uint64_t>(n)).value_or(0));
  at::Tensor out = at::empty({n}, at::TensorOptions().dtype(at::kFloat));
  kernels::dequantize_rows(t.type, t.data, 0, 1, n, out.data_ptr<float>(), nullptr);
  return out;
}

std::shared_ptr<const LlamaModel> LlamaModel::load(const std::string& path, const LlamaLoadOptions& options) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    fail(ErrorCode::Io, "cannot open model '{}': {}", path, std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return LlamaModelBuilder::from_hf(path, options);
  if (!S_ISREG(st.st_mode))
    fail(ErrorCode::Io, "cannot open model '{}': neither a .gguf file nor a Hugging Face folder", path);
  return LlamaModelBuilder::from_gguf(path, options);
}

uint64_t LlamaModel::weight_bytes() const {
  uint64_t total = token_embd_.bytes() + (tied() ? 0 : output_.bytes());
  for (const LlamaLayerWeights& w : layers_)
    for (const WeightMatrix* m : {&w.wq, &w.wk, &w.wv, &w.wo, &w.w_gate, &w.w_up, &w.w_down}) total += m->bytes();
  return total;
}

void LlamaModel::embed_tokens(const int32_t* ids, int64_t n, float* out) const {
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= config_.vocab_size)
      fail(ErrorCode::InvalidArgument, "token id {} at index {} is outside the vocabulary [0, {})", ids[i], i,
           config_.vocab_size);
    kernels::dequantize_rows(token_embd_.type, token_embd_.data, ids[i], 1, config_.dim, out + i * config_.dim,
                             nullptr);
  }
}

}  // namespace ophtha
