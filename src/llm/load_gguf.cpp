// LLaMA models from GGUF: llama.* hyper-parameters, tokenizer.ggml.* vocabulary, tensors read
// in place. GGUF lists dimensions fastest-first (ne[0] = row length), the reverse of PyTorch.
#include <limits>
#include <optional>
#include <unordered_map>

#include "llm/model_builder.hpp"
#include "llm/tokenizer_from_gguf.hpp"
#include "ophtha/error.hpp"
#include "ophtha/gguf.hpp"

namespace ophtha {

std::shared_ptr<const LlamaModel> LlamaModelBuilder::from_gguf(const std::string& path, const LlamaLoadOptions& options) {
  auto gguf = std::make_shared<const GgufFile>(GgufFile::open(path));
  const std::string arch = gguf->get_string("general.architecture");
  if (arch != "llama")
    fail(ErrorCode::Unsupported, "{}: general.architecture is '{}', expected 'llama'", path, arch);
  if (auto scaling = gguf->find_string("llama.rope.scaling.type"); scaling && *scaling != "none")
    fail(ErrorCode::Unsupported, "{}: llama.rope.scaling.type '{}' is not supported (only none)", path, *scaling);

  // Any integer type; a value past int64 is absurd for every hyper-parameter (validate() bounds the rest).
  auto integer = [&](const char* key, std::optional<int64_t> fallback = std::nullopt) -> int64_t {
    const std::optional<uint64_t> v = fallback ? gguf->find_uint(key) : std::optional<uint64_t>(gguf->get_uint(key));
    if (!v) return *fallback;
    if (*v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(ErrorCode::InvalidFormat, "{}: {} is {}, far beyond any model", path, key, *v);
    return static_cast<int64_t>(*v);
  };
  LlamaConfig c;
  c.dim = integer("llama.embedding_length");
  c.n_layers = integer("llama.block_count");
  c.n_heads = integer("llama.attention.head_count");
  c.n_kv_heads = integer("llama.attention.head_count_kv", c.n_heads);
  c.ffn_dim = integer("llama.feed_forward_length");
  c.context_length = integer("llama.context_length");
  c.rms_eps = static_cast<float>(gguf->get_float("llama.attention.layer_norm_rms_epsilon"));
  c.rope_theta = static_cast<float>(gguf->find_float("llama.rope.freq_base").value_or(10000.0));
  c.rope_layout = RopeLayout::Interleaved;
  c.head_dim = c.n_heads > 0 ? c.dim / c.n_heads : 0;

  auto tokenizer = std::make_shared<const Tokenizer>(tokenizer_from_gguf(*gguf));
  c.vocab_size = tokenizer->n_vocab();
  if (const int64_t declared = integer("llama.vocab_size", c.vocab_size); declared != c.vocab_size)
    fail(ErrorCode::InvalidFormat, "{}: llama.vocab_size is {} but tokenizer.ggml.tokens has {} entries", path,
         declared, c.vocab_size);

  std::unordered_map<std::string, StoredTensor> tensors;
  for (const GgufTensorInfo& info : gguf->tensors()) {
    StoredTensor t{path, info.name, info.type, {}, info.data, info.nbytes};
    for (auto it = info.ne.rbegin(); it != info.ne.rend(); ++it) t.shape.push_back(static_cast<int64_t>(*it));
    tensors.emplace(info.name, std::move(t));
  }
  if (const auto embd = tensors.find("token_embd.weight"); embd != tensors.end() && embd->second.shape.size() == 2 &&
                                                           embd->second.shape[0] != c.vocab_size)
    fail(ErrorCode::InvalidFormat, "{}: tensor 'token_embd.weight' has {} rows but tokenizer.ggml.tokens has {} entries",
         path, embd->second.shape[0], c.vocab_size);
  c.tied_output = tensors.count("output.weight") == 0;
  c.validate(path);
  if (const auto rope_dims = gguf->find_uint("llama.rope.dimension_count"); rope_dims && *rope_dims != static_cast<uint64_t>(c.head_dim))
    fail(ErrorCode::Unsupported, "{}: llama.rope.dimension_count is {}, only full-head RoPE (head_dim {}) is supported",
         path, *rope_dims, c.head_dim);

  auto model = make();
  set(*model, path, c, tokenizer, gguf);
  bind_all(*model, path, gguf, options, [&](const std::string& name) -> const StoredTensor* {
    auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : &it->second;
  }, [](const std::string& name) { return name; });
  return model;
}

}  // namespace ophtha
