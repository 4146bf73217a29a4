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
  check_range(source, "dim (embedding_length)", dim, kMaxDim);
  check_range(source, "n_layers (block_count)", n_layers, kMaxLayers);
  check_range(source, "n_heads (head_count)", n_heads, kMaxHeads);
  check_range(source, "n_kv_heads (head_count_kv)", n_kv_heads, kMaxHeads);
  check_range(source, "ffn_dim (feed_forward_length)", ffn_dim, kMaxFfn);
  check_range(source, "vocab_size", vocab_size, kMaxVocab);
  check_range(source, "context_length", context_length, kMaxContext);
  if (dim % n_heads != 0)
    fail(ErrorCode::InvalidFormat, "{}: dim {} is not divisible by n_heads {}", source, dim, n_heads);
  if (n_heads % n_kv_heads != 0)
    fail(ErrorCode::InvalidFormat, "{}: n_heads {} is not a multiple of n_kv_heads {}", source, n_heads, n_kv_heads);
  if (head_dim != dim / n_heads || head_dim % 2 != 0)
    fail(ErrorCode::InvalidFormat, "{}: head_dim {} must be dim / n_heads = {} and even", source, head_dim,
         dim / n_heads);
  if (!(rms_eps > 0.f && rms_eps < 1.f))
    fail(ErrorCode::InvalidFormat, "{}: rms_norm_eps is {}, expected a value in (0, 1)", source, rms_eps);
  if (!(rope_theta > 1.f && rope_theta < 1e12f))
    fail(ErrorCode::InvalidFormat, "{}: rope theta is {}, expected a value in (1, 1e12)", source, rope_theta);
}

uint64_t WeightMatrix::row_bytes() const { return tensor_bytes(type, static_cast<uint64_t>(cols)).value_or(0); }

std::string layer_tensor_name(int64_t layer, const char* part) { return fmt::format("blk.{}.{}.weight", layer, part); }

WeightMatrix LlamaModelBuilder::matrix(const std::string& file, const StoredTensor& t, int64_t rows, int64_t cols,
                                       const std::shared_ptr<const void>& owner) {
  if (t.shape != std::vector<int64_t>{rows, cols})
    fail(ErrorCode::InvalidFormat, "{}: tensor '{}' has shape {}, expected {}", file, t.name, shape_text(t.shape),
         shape_text({rows, cols}));
  const auto row_bytes = tensor_bytes(t.type, static_cast<uint64_t>(cols));
  if (!row_bytes)
    fail(ErrorCode::InvalidFormat, "{}: tensor '{}' of type {} has rows of {} values, not a whole number of blocks",
         file, t.name, tensor_type_info(t.type).name, cols);
  if (*row_bytes * static_cast<uint64_t>(rows) != t.nbytes)
    fail(ErrorCode::InvalidFormat, "{}: tensor '{}' holds {} bytes, expected {}", file, t.name, t.nbytes,
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

at::Tensor LlamaModelBuilder::vector(const std::string& file, const StoredTensor& t, int64_t n) {
  if (t.shape != std::vector<int64_t>{n})
    fail(ErrorCode::InvalidFormat, "{}: tensor '{}' has shape {}, expected {}", file, t.name, shape_text(t.shape),
         shape_text({n}));
  if (tensor_type_info(t.type).block_elems != 1 || tensor_bytes(t.type, static_cast<uint64_t>(n)) != t.nbytes)
    fail(ErrorCode::InvalidFormat, "{}: norm tensor '{}' must be F32, F16 or BF16 with {} values", file, t.name, n);
  at::Tensor out = at::empty({n}, at::TensorOptions().dtype(at::kFloat));
  kernels::dequantize_rows(t.type, t.data, 0, 1, n, out.data_ptr<float>(), nullptr);
  return out;
}

std::shared_ptr<const LlamaModel> LlamaModel::load(const std::string& path, const LlamaLoadOptions& options) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    fail(ErrorCode::Io, "cannot open model '{}': {}", path, std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return LlamaModelBuilder::from_hf(path, options);
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
