// LLaMA models from a Hugging Face folder: config.json (LlamaForCausalLM), model.safetensors or
// shards listed in model.safetensors.index.json, and tokenizer.model. HF keeps q/k rows in the
// rotate-half layout, so the model runs RoPE with RopeLayout::HalfSplit instead of permuting.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <type_traits>
#include <map>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "llm/model_builder.hpp"
#include "ophtha/error.hpp"
#include "ophtha/safetensors.hpp"

namespace ophtha {
namespace {

// Canonical (GGUF) name ↔ Hugging Face name; the one key map between the two schemes.
const std::vector<std::pair<std::string, std::string>>& layer_name_map() {
  static const std::vector<std::pair<std::string, std::string>> map = {
      {"attn_norm", "input_layernorm"},       {"attn_q", "self_attn.q_proj"},
      {"attn_k", "self_attn.k_proj"},          {"attn_v", "self_attn.v_proj"},
      {"attn_output", "self_attn.o_proj"},     {"ffn_norm", "post_attention_layernorm"},
      {"ffn_gate", "mlp.gate_proj"},           {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"},
  };
  return map;
}

std::string hf_name(const std::string& canonical) {
  if (canonical == "token_embd.weight") return "model.embed_tokens.weight";
  if (canonical == "output_norm.weight") return "model.norm.weight";
  if (canonical == "output.weight") return "lm_head.weight";
  // blk.{l}.{part}.weight
  const size_t dot1 = canonical.find('.'), dot2 = canonical.find('.', dot1 + 1);
  const std::string layer = canonical.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string part = canonical.substr(dot2 + 1, canonical.size() - dot2 - 1 - std::string(".weight").size());
  for (const auto& [ours, theirs] : layer_name_map())
    if (ours == part) return "model.layers." + layer + "." + theirs + ".weight";
  return canonical;
}

// config.json of a real checkpoint is a few KiB; the limit only stops a hostile one from being read.
constexpr std::streamsize kMaxConfigBytes = 16 << 20;

nlohmann::json read_json(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(ErrorCode::Io, "cannot open '{}': {}", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(ErrorCode::Io, "cannot open '{}': not a regular file", path);
  if (st.st_size > kMaxConfigBytes)
    fail(ErrorCode::InvalidFormat, "{}: {} bytes is too large for a config.json (limit {} MiB)", path, st.st_size,
         kMaxConfigBytes >> 20);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorCode::Io, "cannot open '{}': {}", path, std::strerror(errno));
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::InvalidFormat, "{}: not valid JSON ({})", path, e.what());
  }
}

int64_t int_field(const nlohmann::json& j, const std::string& path, const char* key, std::optional<int64_t> fallback) {
  if (!j.contains(key) || j[key].is_null()) {
    if (fallback) return *fallback;
    fail(ErrorCode::InvalidFormat, "{}: field '{}' is missing", path, key);
  }
  const nlohmann::json& v = j[key];
  if (!v.is_number_integer())
    fail(ErrorCode::InvalidFormat, "{}: field '{}' is {}, expected an integer", path, key, v.dump());
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    fail(ErrorCode::InvalidFormat, "{}: field '{}' is {}, far beyond any model", path, key, v.dump());
  return v.get<int64_t>();
}

double number_field(const nlohmann::json& j, const std::string& path, const char* key, double fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_number())
    fail(ErrorCode::InvalidFormat, "{}: field '{}' is {}, expected a number", path, key, j[key].dump());
  return j[key].get<double>();
}

template <typename T>
T typed_field(const nlohmann::json& j, const std::string& path, const char* key, T fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const nlohmann::json& v = j[key];
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) fail(ErrorCode::InvalidFormat, "{}: field '{}' is {}, expected true or false", path, key, v.dump());
  } else {
    if (!v.is_string()) fail(ErrorCode::InvalidFormat, "{}: field '{}' is {}, expected a string", path, key, v.dump());
  }
  return v.get<T>();
}

}  // namespace

std::shared_ptr<const LlamaModel> LlamaModelBuilder::from_hf(const std::string& dir, const LlamaLoadOptions& options) {
  const std::string config_path = dir + "/config.json";
  const nlohmann::json j = read_json(config_path);
  if (!j.is_object()) fail(ErrorCode::InvalidFormat, "{}: expected a JSON object", config_path);
  const std::string model_type = typed_field<std::string>(j, config_path, "model_type", "");
  if (model_type != "llama")
    fail(ErrorCode::Unsupported, "{}: model_type is '{}', expected 'llama'", config_path, model_type);
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null())
    fail(ErrorCode::Unsupported, "{}: rope_scaling is not supported (only null)", config_path);
  if (const std::string act = typed_field<std::string>(j, config_path, "hidden_act", "silu"); act != "silu")
    fail(ErrorCode::Unsupported, "{}: hidden_act is '{}', only 'silu' (SwiGLU) is supported", config_path, act);

  LlamaConfig c;
  c.dim = int_field(j, config_path, "hidden_size", std::nullopt);
  c.n_layers = int_field(j, config_path, "num_hidden_layers", std::nullopt);
  c.n_heads = int_field(j, config_path, "num_attention_heads", std::nullopt);
  c.n_kv_heads = int_field(j, config_path, "num_key_value_heads", c.n_heads);
  c.ffn_dim = int_field(j, config_path, "intermediate_size", std::nullopt);
  c.vocab_size = int_field(j, config_path, "vocab_size", std::nullopt);
  c.context_length = int_field(j, config_path, "max_position_embeddings", std::nullopt);
  c.rms_eps = static_cast<float>(number_field(j, config_path, "rms_norm_eps", 1e-6));
  c.rope_theta = static_cast<float>(number_field(j, config_path, "rope_theta", 10000.0));
  c.rope_layout = RopeLayout::HalfSplit;
  c.tied_output = typed_field<bool>(j, config_path, "tie_word_embeddings", false);
  c.head_dim = c.n_heads > 0 ? c.dim / c.n_heads : 0;
  c.validate(config_path);
  if (const int64_t head_dim = int_field(j, config_path, "head_dim", c.head_dim); head_dim != c.head_dim)
    fail(ErrorCode::Unsupported, "{}: head_dim is {}, only hidden_size / num_attention_heads = {} is supported",
         config_path, head_dim, c.head_dim);

  auto tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_sentencepiece_model(dir + "/tokenizer.model"));
  if (tokenizer->n_vocab() != c.vocab_size)
    fail(ErrorCode::InvalidFormat, "{}: vocab_size is {} but {}/tokenizer.model has {} pieces", config_path,
         c.vocab_size, dir, tokenizer->n_vocab());

  auto checkpoint = std::make_shared<const SafetensorsCheckpoint>(SafetensorsCheckpoint::open(dir));
  std::map<std::string, StoredTensor> bound;
  auto model = make();
  set(*model, dir, c, tokenizer, checkpoint);
  bind_all(
      *model, dir, checkpoint, options,
      [&](const std::string& canonical) -> const StoredTensor* {
        const std::string name = hf_name(canonical);
        const SafetensorsTensor* t = checkpoint->find(name);
        if (!t) return nullptr;
        static const std::unordered_map<std::string, TensorType> dtypes = {
            {"F32", TensorType::F32}, {"F16", TensorType::F16}, {"BF16", TensorType::BF16}};
        const auto type = dtypes.find(t->dtype);
        if (type == dtypes.end())
          fail(ErrorCode::Unsupported, "{}: tensor '{}' has dtype {}, expected F32, F16 or BF16", t->file, name,
               t->dtype);
        return &(bound[name] = StoredTensor{t->file, name, type->second, t->shape, t->data, t->nbytes});
      },
      hf_name);
  return model;
}

}  // namespace ophtha
