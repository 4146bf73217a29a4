// TrainConfig from JSON: every key checked for type and range, unknown keys refused (a typo
// must not silently train with a default).
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ophtha/error.hpp"
#include "ophtha/train.hpp"

namespace ophtha {
namespace {

using nlohmann::json;

// One JSON object of the configuration, read key by key; `where` is its path ("optimizer").
class Section {
 public:
  Section(const json& j, std::string source, std::string where) : j_(j), source_(std::move(source)), where_(std::move(where)) {
    if (!j_.is_object()) bad("", "an object", j_);
  }
  // Refuses any key of the object that was never asked for.
  void finish() const {
    for (const auto& [key, value] : j_.items())
      if (!read_.count(key)) fail(ErrorCode::InvalidFormat, "{}: unknown key '{}'", source_, path(key));
  }

  bool has(const std::string& key) { read_.insert(key); return j_.contains(key) && !j_[key].is_null(); }
  const json& at(const std::string& key) { read_.insert(key); return j_[key]; }

  int64_t integer(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) {
    if (!has(key)) return fallback;
    const json& v = j_[key];
    if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
      bad(key, fmt::format("an integer in [{}, {}]", lo, hi), v);
    return v.get<int64_t>();
  }
  int64_t required_integer(const std::string& key, int64_t lo, int64_t hi) {
    if (!has(key)) fail(ErrorCode::InvalidFormat, "{}: missing key '{}'", source_, path(key));
    return integer(key, 0, lo, hi);
  }
  double number(const std::string& key, double fallback, double lo, double hi) {
    if (!has(key)) return fallback;
    const json& v = j_[key];
    if (!v.is_number() || !(v.get<double>() >= lo && v.get<double>() <= hi))
      bad(key, fmt::format("a number in [{}, {}]", lo, hi), v);
    return v.get<double>();
  }
  std::string string(const std::string& key, const std::string& fallback) {
    if (!has(key)) return fallback;
    if (!j_[key].is_string()) bad(key, "a string", j_[key]);
    return j_[key].get<std::string>();
  }
  bool boolean(const std::string& key, bool fallback) {
    if (!has(key)) return fallback;
    if (!j_[key].is_boolean()) bad(key, "true or false", j_[key]);
    return j_[key].get<bool>();
  }
  std::string path(const std::string& key) const { return where_.empty() ? key : where_ + "." + key; }
  [[noreturn]] void bad(const std::string& key, const std::string& expected, const json& v) const {
    fail(ErrorCode::InvalidFormat, "{}: '{}' is {}, expected {}", source_, key.empty() ? where_ : path(key), v.dump(),
         expected);
  }

 private:
  const json& j_;
  std::string source_, where_;
  std::set<std::string> read_;
};

std::string resolved(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

TensorType parse_output_type(const std::string& name, Section& s) {
  if (name == "f32") return TensorType::F32;
  if (name == "f16") return TensorType::F16;
  if (name == "bf16") return TensorType::BF16;
  if (name == "q8_0") return TensorType::Q8_0;
  s.bad("type", "one of \"f32\", \"f16\", \"bf16\", \"q8_0\"", json(name));
}

}  // namespace

TrainConfig TrainConfig::from_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorCode::Io, "cannot open '{}': {}", path, std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  const size_t slash = path.find_last_of('/');
  return from_json(text.str(), path, slash == std::string::npos ? "." : path.substr(0, slash));
}

TrainConfig TrainConfig::from_json(const std::string& text, const std::string& source, const std::string& base_dir) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail(ErrorCode::InvalidFormat, "{}: not valid JSON ({})", source, e.what());
  }
  TrainConfig c;
  c.source = source;
  Section top(j, source, "");
  {
    if (!top.has("model")) fail(ErrorCode::InvalidFormat, "{}: missing key 'model'", source);
    Section m(top.at("model"), source, "model");
    if (m.has("from")) {
      c.init_from = resolved(base_dir, m.string("from", ""));
    } else {
      LlamaConfig& s = c.scratch;
      s.dim = m.required_integer("dim", 2, 65536);
      s.n_layers = m.required_integer("layers", 1, 1024);
      s.n_heads = m.required_integer("heads", 1, 1024);
      s.n_kv_heads = m.integer("kv_heads", s.n_heads, 1, 1024);
      s.ffn_dim = m.required_integer("ffn", 1, 1 << 20);
      s.context_length = m.required_integer("context", 2, 1 << 20);
      s.head_dim = s.dim / s.n_heads;
      s.rms_eps = static_cast<float>(m.number("rms_eps", 1e-5, 1e-12, 0.1));
      s.rope_theta = static_cast<float>(m.number("rope_theta", 10000.0, 1.0 + 1e-9, 1e12));
      s.tied_output = m.boolean("tied", false);
      c.init_std = m.number("init_std", 0.02, 1e-9, 10.0);
      if (!m.has("tokenizer"))
        fail(ErrorCode::InvalidFormat, "{}: model needs either 'from' (a GGUF file or HF folder) or 'tokenizer' with "
                                       "'dim', 'layers', 'heads', 'ffn', 'context'", source);
      c.tokenizer = resolved(base_dir, m.string("tokenizer", ""));
    }
    m.finish();
  }
  {
    if (!top.has("data")) fail(ErrorCode::InvalidFormat, "{}: missing key 'data'", source);
    Section d(top.at("data"), source, "data");
    if (!d.has("train")) fail(ErrorCode::InvalidFormat, "{}: missing key 'data.train'", source);
    c.train_data = resolved(base_dir, d.string("train", ""));
    c.validation_data = resolved(base_dir, d.string("validation", ""));
    c.max_tokens = d.integer("max_tokens", 0, 2, 1 << 20);
    d.finish();
  }
  const std::string method = top.string("method", "full");
  if (method == "full")
    c.method = TrainMethod::Full;
  else if (method == "lora")
    c.method = TrainMethod::Lora;
  else
    top.bad("method", "\"full\" or \"lora\"", json(method));
  if (top.has("lora")) {
    Section l(top.at("lora"), source, "lora");
    c.lora.rank = l.integer("rank", c.lora.rank, 1, 4096);
    c.lora.alpha = l.number("alpha", c.lora.alpha, 1e-9, 1e9);
    c.lora.dropout = l.number("dropout", c.lora.dropout, 0.0, 0.999);
    if (l.has("targets")) {
      const json& t = l.at("targets");
      if (!t.is_array() || t.empty()) l.bad("targets", "a non-empty array of names among q, k, v, o, gate, up, down", t);
      c.lora.targets.clear();
      for (const json& name : t) {
        if (!name.is_string()) l.bad("targets", "an array of strings", t);
        try {
          c.lora.targets.push_back(parse_llama_linear(name.get<std::string>()));
        } catch (const Error& e) {
          fail(ErrorCode::InvalidFormat, "{}: lora.targets: {}", source, e.what());
        }
      }
    }
    l.finish();
  }
  if (top.has("optimizer")) {
    Section o(top.at("optimizer"), source, "optimizer");
    c.lr = o.number("lr", c.lr, 0.0, 10.0);
    c.min_lr = o.number("min_lr", c.min_lr, 0.0, 10.0);
    c.warmup_steps = o.integer("warmup_steps", 0, 0, 1 << 30);
    c.grad_clip = o.number("grad_clip", c.grad_clip, 0.0, 1e9);
    c.adamw.weight_decay = o.number("weight_decay", c.adamw.weight_decay, 0.0, 10.0);
    c.adamw.beta1 = o.number("beta1", c.adamw.beta1, 0.0, 0.999999);
    c.adamw.beta2 = o.number("beta2", c.adamw.beta2, 0.0, 0.999999);
    c.adamw.eps = o.number("eps", c.adamw.eps, 0.0, 1.0);
    o.finish();
  }
  c.steps = top.integer("steps", 0, 0, 1LL << 40);
  c.epochs = top.integer("epochs", 1, 1, 1 << 20);
  c.batch_size = top.integer("batch_size", c.batch_size, 1, 1 << 16);
  c.grad_accum = top.integer("grad_accum", c.grad_accum, 1, 1 << 16);
  c.seed = static_cast<uint64_t>(top.integer("seed", 0, 0, INT64_MAX));
  c.threads = static_cast<int>(top.integer("threads", 0, 0, 1024));
  c.validation_every = top.integer("validation_every", 0, 0, 1LL << 40);
  if (top.has("checkpoint")) {
    Section k(top.at("checkpoint"), source, "checkpoint");
    c.checkpoint_dir = resolved(base_dir, k.string("dir", ""));
    c.checkpoint_every = k.integer("every", 0, 0, 1LL << 40);
    if (c.checkpoint_dir.empty()) fail(ErrorCode::InvalidFormat, "{}: 'checkpoint' needs 'dir'", source);
    k.finish();
  }
  if (top.has("output")) {
    Section o(top.at("output"), source, "output");
    c.output_gguf = resolved(base_dir, o.string("gguf", ""));
    c.output_type = parse_output_type(o.string("type", "f32"), o);
    c.output_hf = resolved(base_dir, o.string("hf", ""));
    c.metrics_log = resolved(base_dir, o.string("metrics", ""));
    c.loss_plot = resolved(base_dir, o.string("loss_plot", ""));
    o.finish();
  }
  top.finish();
  return c;
}

std::string TrainConfig::run_identity() const {
  json j = {{"init_from", init_from}, {"tokenizer", tokenizer}, {"method", method == TrainMethod::Lora ? "lora" : "full"},
            {"seed", seed}, {"batch_size", batch_size}, {"grad_accum", grad_accum}, {"train_data", train_data},
            {"max_tokens", max_tokens}};
  if (init_from.empty())
    j["scratch"] = {scratch.dim, scratch.n_layers, scratch.n_heads, scratch.n_kv_heads, scratch.ffn_dim,
                    scratch.context_length, scratch.tied_output, init_std};
  if (method == TrainMethod::Lora) {
    std::vector<std::string> targets;
    for (LlamaLinear t : lora.targets) targets.emplace_back(llama_linear_name(t));
    j["lora"] = {lora.rank, lora.alpha, lora.dropout, targets};
  }
  return j.dump();
}

}  // namespace ophtha
