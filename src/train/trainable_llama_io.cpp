// TrainableLlama from an engine model, and export to GGUF and Hugging Face folders the engine loads.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "ophtha/error.hpp"
#include "ophtha/gguf.hpp"
#include "ophtha/kernels.hpp"
#include "ophtha/mapped_file.hpp"
#include "ophtha/safetensors.hpp"
#include "ophtha/train_llama.hpp"
#include "train/sentencepiece_writer.hpp"

namespace ophtha {
namespace {

// The one q/k row permutation between the Meta layout (RoPE pairs (2i, 2i+1), GGUF) and the
// Hugging Face layout (pairs (i, i + hd/2)), as transformers' convert_llama_weights_to_hf.py
// `permute` writes it. w (heads · hd, cols).
at::Tensor meta_to_hf(const at::Tensor& w, int64_t heads) {
  const int64_t rows = w.size(0), cols = w.size(1);
  return w.reshape({heads, rows / heads / 2, 2, cols}).transpose(1, 2).reshape({rows, cols}).contiguous();
}

at::Tensor hf_to_meta(const at::Tensor& w, int64_t heads) {
  const int64_t rows = w.size(0), cols = w.size(1);
  return w.reshape({heads, 2, rows / heads / 2, cols}).transpose(1, 2).reshape({rows, cols}).contiguous();
}

at::Tensor widened(const WeightMatrix& w) {
  at::Tensor out = at::empty({w.rows, w.cols}, at::kFloat);
  kernels::dequantize_rows(w.type, w.data, 0, w.rows, w.cols, out.data_ptr<float>(), nullptr);
  return out;
}

// The bytes of an f32 tensor stored as `type` (F32, F16, BF16, Q8_0 row by row).
std::vector<uint8_t> encoded(const at::Tensor& t, TensorType type) {
  const at::Tensor c = t.detach().contiguous();
  const float* x = c.data_ptr<float>();
  const int64_t n = c.numel();
  std::vector<uint8_t> out(*tensor_bytes(type, static_cast<uint64_t>(n)));
  switch (type) {
    case TensorType::F32: std::memcpy(out.data(), x, out.size()); break;
    case TensorType::F16:
    case TensorType::BF16: {
      auto* h = reinterpret_cast<uint16_t*>(out.data());
      for (int64_t i = 0; i < n; ++i) h[i] = type == TensorType::F16 ? kernels::fp32_to_fp16(x[i]) : kernels::fp32_to_bf16(x[i]);
      break;
    }
    case TensorType::Q8_0: {
      const int64_t cols = c.size(-1), rows = n / cols;
      const uint64_t row_bytes = *tensor_bytes(type, static_cast<uint64_t>(cols));
      for (int64_t r = 0; r < rows; ++r) kernels::quantize_row_q8_0(x + r * cols, out.data() + r * row_bytes, cols);
      break;
    }
    default: fail(ErrorCode::InvalidArgument, "cannot export weights as {}", tensor_type_info(type).name);
  }
  return out;
}

void require_export_type(TensorType type, bool allow_q8, const std::string& path) {
  const bool ok = type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16 ||
                  (allow_q8 && type == TensorType::Q8_0);
  if (!ok)
    fail(ErrorCode::InvalidArgument, "{}: cannot write weights as {}: expected F32, F16, BF16{}", path,
         tensor_type_info(type).name, allow_q8 ? " or Q8_0" : "");
}

void write_text_file(const std::string& path, const std::string& text) {
  AtomicFileWriter out(path);
  out.write(text.data(), text.size());
  out.commit();
}

// "model.layers.3.self_attn.q_proj.weight" → "blk.3.attn_q.weight", and the global names.
std::string gguf_name(const std::string& hf) {
  static const std::pair<const char*, const char*> globals[] = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"}};
  for (const auto& [from, to] : globals)
    if (hf == from) return to;
  static const std::pair<const char*, const char*> parts[] = {
      {"input_layernorm", "attn_norm"},  {"self_attn.q_proj", "attn_q"}, {"self_attn.k_proj", "attn_k"},
      {"self_attn.v_proj", "attn_v"},     {"self_attn.o_proj", "attn_output"},
      {"post_attention_layernorm", "ffn_norm"}, {"mlp.gate_proj", "ffn_gate"}, {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"}};
  const std::string prefix = "model.layers.";
  const size_t dot = hf.find('.', prefix.size());
  const std::string layer = hf.substr(prefix.size(), dot - prefix.size());
  const std::string part = hf.substr(dot + 1, hf.size() - dot - 1 - std::string(".weight").size());
  for (const auto& [from, to] : parts)
    if (part == from) return "blk." + layer + "." + to + ".weight";
  fail(ErrorCode::Internal, "no GGUF name for tensor '{}'", hf);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

TrainableLlama TrainableLlama::from_model(const LlamaModel& model) {
  TrainableLlama m;
  m.config_ = model.config();
  m.config_.rope_layout = RopeLayout::HalfSplit;
  m.tokenizer_ = std::make_shared<const Tokenizer>(model.tokenizer());
  const LlamaConfig& c = model.config();
  const bool meta = c.rope_layout == RopeLayout::Interleaved;
  m.token_embd_ = widened(model.token_embedding());
  for (const LlamaLayerWeights& w : model.layers()) {
    Block b;
    b.attn_norm = w.attn_norm.to(at::kFloat).clone();
    b.q.weight = meta ? meta_to_hf(widened(w.wq), c.n_heads) : widened(w.wq);
    b.k.weight = meta ? meta_to_hf(widened(w.wk), c.n_kv_heads) : widened(w.wk);
    b.v.weight = widened(w.wv);
    b.o.weight = widened(w.wo);
    b.ffn_norm = w.ffn_norm.to(at::kFloat).clone();
    b.gate.weight = widened(w.w_gate);
    b.up.weight = widened(w.w_up);
    b.down.weight = widened(w.w_down);
    m.blocks_.push_back(std::move(b));
  }
  m.output_norm_ = model.output_norm().to(at::kFloat).clone();
  if (!c.tied_output) m.output_ = widened(model.output_head());
  return m;
}

TrainableLlama TrainableLlama::load(const std::string& path) { return from_model(*LlamaModel::load(path)); }

void TrainableLlama::save_gguf(const std::string& path, TensorType type) const {
  require_export_type(type, true, path);
  const LlamaConfig& c = config_;
  if (type == TensorType::Q8_0 && (c.dim % 32 || c.ffn_dim % 32 || (c.n_heads * c.head_dim) % 32))
    fail(ErrorCode::InvalidArgument, "{}: Q8_0 needs dim and ffn_dim multiples of 32 (dim {}, ffn_dim {})", path, c.dim,
         c.ffn_dim);
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "ophtha-trained");
  w.set_uint32("general.alignment", 32);
  w.set_uint32("general.file_type", type == TensorType::F32 ? 0 : type == TensorType::F16 ? 1 : type == TensorType::Q8_0 ? 7 : 32);
  w.set_uint32("llama.vocab_size", static_cast<uint32_t>(c.vocab_size));
  w.set_uint32("llama.context_length", static_cast<uint32_t>(c.context_length));
  w.set_uint32("llama.embedding_length", static_cast<uint32_t>(c.dim));
  w.set_uint32("llama.block_count", static_cast<uint32_t>(c.n_layers));
  w.set_uint32("llama.feed_forward_length", static_cast<uint32_t>(c.ffn_dim));
  w.set_uint32("llama.rope.dimension_count", static_cast<uint32_t>(c.head_dim));
  w.set_uint32("llama.attention.head_count", static_cast<uint32_t>(c.n_heads));
  w.set_uint32("llama.attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  w.set_float32("llama.attention.layer_norm_rms_epsilon", c.rms_eps);
  w.set_float32("llama.rope.freq_base", c.rope_theta);
  const TokenizerVocab& vocab = tokenizer_->vocab();
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_array("tokenizer.ggml.tokens", vocab.pieces);
  w.set_array("tokenizer.ggml.scores", vocab.scores);
  std::vector<int32_t> kinds;
  for (TokenKind k : vocab.kinds) kinds.push_back(static_cast<int32_t>(k));
  w.set_array("tokenizer.ggml.token_type", kinds);
  w.set_uint32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(vocab.bos_id));
  w.set_uint32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(vocab.eos_id));
  w.set_uint32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(vocab.unk_id));
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
  w.set_bool("tokenizer.ggml.add_space_prefix", vocab.add_space_prefix);
  if (type == TensorType::Q8_0) w.set_uint32("general.quantization_version", 2);
  for (const auto& [name, tensor] : base_weights(true)) {
    at::Tensor t = tensor.detach();
    if (ends_with(name, "q_proj.weight")) t = hf_to_meta(t, c.n_heads);
    if (ends_with(name, "k_proj.weight")) t = hf_to_meta(t, c.n_kv_heads);
    const TensorType stored = t.dim() == 1 ? TensorType::F32 : type;
    std::vector<uint64_t> ne;
    for (int64_t i = t.dim() - 1; i >= 0; --i) ne.push_back(static_cast<uint64_t>(t.size(i)));
    w.add_tensor(gguf_name(name), stored, std::move(ne), encoded(t, stored));
  }
  w.write(path);
}

void TrainableLlama::save_hf(const std::string& dir, TensorType type) const {
  require_export_type(type, false, dir);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    fail(ErrorCode::Io, "{}: cannot create the folder: {}", dir, std::strerror(errno));
  const LlamaConfig& c = config_;
  const TokenizerVocab& vocab = tokenizer_->vocab();
  const char* dtype = type == TensorType::F32 ? "F32" : type == TensorType::F16 ? "F16" : "BF16";
  nlohmann::json config = {
      {"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", c.dim},
      {"intermediate_size", c.ffn_dim}, {"num_hidden_layers", c.n_layers}, {"num_attention_heads", c.n_heads},
      {"num_key_value_heads", c.n_kv_heads}, {"max_position_embeddings", c.context_length},
      {"vocab_size", c.vocab_size}, {"rms_norm_eps", c.rms_eps}, {"rope_theta", c.rope_theta},
      {"rope_scaling", nullptr}, {"tie_word_embeddings", c.tied_output}, {"hidden_act", "silu"},
      {"torch_dtype", type == TensorType::F32 ? "float32" : type == TensorType::F16 ? "float16" : "bfloat16"},
      {"bos_token_id", vocab.bos_id}, {"eos_token_id", vocab.eos_id}};
  std::vector<SafetensorsTensorData> tensors;
  for (const auto& [name, tensor] : base_weights(true)) {
    const at::Tensor t = tensor.detach();
    tensors.push_back({name, dtype, t.sizes().vec(), encoded(t, type)});
  }
  write_safetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
  write_text_file(dir + "/tokenizer.model", train::sentencepiece_model_bytes(vocab));
  write_text_file(dir + "/config.json", config.dump(2) + "\n");
}

}  // namespace ophtha
