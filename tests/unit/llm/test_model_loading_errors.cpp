// LlamaModel::load and LlamaSession on files that parse but describe a broken or hostile model:
// missing or wrongly shaped tensors, tensor types a role does not allow, another architecture,
// missing or absurd hyper-parameters, vocabularies that disagree, broken config.json, missing
// shards, truncated files. Each must be an ophtha::Error naming the file and the key or tensor —
// never a crash, a LibTorch or nlohmann exception, or an allocation of the absurd size.
#include "support/doctest_with_aten.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ophtha/error.hpp"
#include "ophtha/gguf.hpp"
#include "ophtha/llama.hpp"
#include "ophtha/safetensors.hpp"
#include "support/test_models.hpp"
#include "support/expect_error.hpp"

using namespace ophtha;
using ophtha::test::error_from;

namespace {

// dim 64, 4 heads of 16 (kv_dim 32), ffn 96, 300 tokens: small, and Q4_0/Q8_0-compatible.
const char* kModelArgs = "--type f32 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 96 --ctx 64 --vocab 300 --seed 5";

std::string base_gguf() { return test::test_model("loading-errors", std::string("--format gguf ") + kModelArgs); }
std::string base_hf() { return test::test_model("loading-errors-hf", std::string("--format hf ") + kModelArgs); }
std::string base_hf_sharded() {
  return test::test_model("loading-errors-hf-sharded", std::string("--format hf-sharded --shards 2 ") + kModelArgs);
}

std::string scratch_path(const std::string& name) {
  const std::string dir = test::work_dir() + "/test_model_loading_errors";
  std::filesystem::create_directories(dir);
  return dir + "/" + name;
}

Error load_error(const std::string& path) {
  return error_from([&] { LlamaModel::load(path); });
}


// ---- GGUF: the base model copied through GgufWriter with one thing changed ----

struct GgufEdit {
  std::set<std::string> drop_keys;
  std::set<std::string> drop_tensors;
  // After the copy: set_* replaces a key in place, add_tensor appends one.
  std::function<void(GgufWriter&)> change;
};

void copy_key(const GgufFile& in, const std::string& key, GgufWriter& out) {
  switch (in.type_of(key)) {
    case GgufType::U8: out.set_uint8(key, static_cast<uint8_t>(in.get_uint(key))); break;
    case GgufType::I8: out.set_int8(key, static_cast<int8_t>(in.get_uint(key))); break;
    case GgufType::U16: out.set_uint16(key, static_cast<uint16_t>(in.get_uint(key))); break;
    case GgufType::I16: out.set_int16(key, static_cast<int16_t>(in.get_uint(key))); break;
    case GgufType::U32: out.set_uint32(key, static_cast<uint32_t>(in.get_uint(key))); break;
    case GgufType::I32: out.set_int32(key, static_cast<int32_t>(in.get_uint(key))); break;
    case GgufType::U64: out.set_uint64(key, in.get_uint(key)); break;
    case GgufType::I64: out.set_int64(key, static_cast<int64_t>(in.get_uint(key))); break;
    case GgufType::F32: out.set_float32(key, static_cast<float>(in.get_float(key))); break;
    case GgufType::F64: out.set_float64(key, in.get_float(key)); break;
    case GgufType::BOOL: out.set_bool(key, *in.find_bool(key)); break;
    case GgufType::STRING: out.set_string(key, in.get_string(key)); break;
    case GgufType::ARRAY:
      switch (in.array_type_of(key)) {
        case GgufType::STRING: out.set_array(key, in.get_string_array(key)); break;
        case GgufType::F32:
        case GgufType::F64: out.set_array(key, in.get_float_array(key)); break;
        default: out.set_array(key, in.get_int_array(key)); break;
      }
      break;
  }
}

// Writes `name` (in the scratch folder): the base GGUF with `edit` applied.
std::string rewrite_gguf(const std::string& name, const GgufEdit& edit) {
  const GgufFile in = GgufFile::open(base_gguf());
  GgufWriter out;
  for (const std::string& key : in.keys())
    if (!edit.drop_keys.count(key)) copy_key(in, key, out);
  for (const GgufTensorInfo& t : in.tensors())
    if (!edit.drop_tensors.count(t.name)) out.add_tensor(t.name, t.type, t.ne, {t.data, t.data + t.nbytes});
  if (edit.change) edit.change(out);
  const std::string path = scratch_path(name);
  out.write(path);
  return path;
}

std::vector<uint8_t> zeros(TensorType type, uint64_t n_elems) { return std::vector<uint8_t>(*tensor_bytes(type, n_elems)); }

// The base GGUF with tensor `name` replaced by zeros of `type` and shape `ne` (ggml order).
std::string with_tensor(const std::string& file, const std::string& name, TensorType type, std::vector<uint64_t> ne) {
  uint64_t n = 1;
  for (const uint64_t d : ne) n *= d;
  return rewrite_gguf(file, {{}, {name}, [=](GgufWriter& w) { w.add_tensor(name, type, ne, zeros(type, n)); }});
}

std::string with_change(const std::string& file, std::function<void(GgufWriter&)> change) {
  return rewrite_gguf(file, {{}, {}, std::move(change)});
}

// ---- Hugging Face: a copy of the base folder with config.json or model.safetensors changed ----

std::string copy_hf(const std::string& name, const std::string& from = base_hf()) {
  const std::string dir = scratch_path(name);
  std::filesystem::remove_all(dir);
  std::filesystem::copy(from, dir, std::filesystem::copy_options::recursive);
  return dir;
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// A copy of the base folder whose config.json has `key` set to `value` (null removes it).
std::string hf_with_config(const std::string& name, const std::string& key, const nlohmann::json& value) {
  const std::string dir = copy_hf(name);
  nlohmann::json config = read_json_file(dir + "/config.json");
  if (value.is_null())
    config.erase(key);
  else
    config[key] = value;
  write_text(dir + "/config.json", config.dump(2));
  return dir;
}

// A copy of the base folder whose model.safetensors has tensor `drop` removed and `add` added.
std::string hf_with_tensors(const std::string& name, const std::string& drop,
                            std::vector<SafetensorsTensorData> add = {}) {
  const std::string dir = copy_hf(name);
  const SafetensorsFile in = SafetensorsFile::open(base_hf() + "/model.safetensors");
  std::vector<SafetensorsTensorData> tensors;
  for (const SafetensorsTensor& t : in.tensors())
    if (t.name != drop) tensors.push_back({t.name, t.dtype, t.shape, {t.data, t.data + t.nbytes}});
  for (SafetensorsTensorData& t : add) tensors.push_back(std::move(t));
  write_safetensors(dir + "/model.safetensors", tensors);
  return dir;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("the base models and a GgufWriter copy of the GGUF load, so each change below is the only fault") {
  const auto gguf = LlamaModel::load(rewrite_gguf("unchanged.gguf", {}));
  CHECK(gguf->config().dim == 64);
  CHECK(gguf->config().vocab_size == 300);
  CHECK(gguf->config().kv_dim() == 32);
  CHECK(LlamaModel::load(base_hf())->config().n_layers == 2);
  CHECK(LlamaModel::load(base_hf_sharded())->config().n_layers == 2);
}

// ---- tensors ----

TEST_CASE("a GGUF without a required tensor is refused, naming the file and the tensor") {
  for (const std::string tensor : {"blk.1.ffn_up.weight", "token_embd.weight", "output_norm.weight", "blk.0.attn_norm.weight"}) {
    INFO("dropped: " << tensor);
    const std::string path = rewrite_gguf("missing-tensor.gguf", {{}, {tensor}, nullptr});
    test::check_message_all(load_error(path), ErrorCode::InvalidFormat, {path, "tensor '" + tensor + "' is missing"});
  }
}

TEST_CASE("a wrongly shaped GGUF tensor is refused, naming the tensor, its shape and the expected shape") {
  struct Case {
    std::string tensor;
    std::vector<uint64_t> ne;  // ggml order
    std::string message;
  };
  const std::vector<Case> cases = {
      {"blk.0.attn_k.weight", {64, 64}, "tensor 'blk.0.attn_k.weight' has shape [64, 64], expected [32, 64]"},
      {"blk.1.ffn_down.weight", {64, 96}, "tensor 'blk.1.ffn_down.weight' has shape [96, 64], expected [64, 96]"},
      {"blk.1.ffn_norm.weight", {32}, "tensor 'blk.1.ffn_norm.weight' has shape [32], expected [64]"},
      {"blk.0.attn_q.weight", {64, 64, 1}, "tensor 'blk.0.attn_q.weight' has shape [1, 64, 64], expected [64, 64]"},
      {"output.weight", {64, 299}, "tensor 'output.weight' has shape [299, 64], expected [300, 64]"},
  };
  for (const Case& c : cases) {
    INFO("tensor: " << c.tensor);
    const std::string path = with_tensor("wrong-shape.gguf", c.tensor, TensorType::F32, c.ne);
    test::check_message_all(load_error(path), ErrorCode::InvalidFormat, {path, c.message});
  }
}

TEST_CASE("a quantised norm tensor is refused as Unsupported, naming the tensor and its type") {
  for (const auto& [tensor, type] : {std::pair<std::string, TensorType>{"output_norm.weight", TensorType::Q8_0},
                                     std::pair<std::string, TensorType>{"blk.1.attn_norm.weight", TensorType::Q4_0}}) {
    INFO("tensor: " << tensor);
    const std::string path = with_tensor("quantised-norm.gguf", tensor, type, {64});
    test::check_message_all(load_error(path), ErrorCode::Unsupported,
                {path, "norm tensor '" + tensor + "' is " + std::string(tensor_type_info(type).name),
                 "expected F32, F16 or BF16"});
  }
}

TEST_CASE("quantised weight matrices are accepted in every matrix role") {
  const std::string path = rewrite_gguf("q8-matrix.gguf", {{}, {"blk.0.attn_k.weight"}, [](GgufWriter& w) {
                                                             w.add_tensor("blk.0.attn_k.weight", TensorType::Q8_0, {64, 32},
                                                                          zeros(TensorType::Q8_0, 64 * 32));
                                                           }});
  CHECK(LlamaModel::load(path)->layers()[0].wk.type == TensorType::Q8_0);
}

// ---- architecture and hyper-parameters ----

TEST_CASE("general.architecture other than llama is Unsupported, naming the key and the value") {
  const std::string path = with_change("falcon.gguf", [](GgufWriter& w) { w.set_string("general.architecture", "falcon"); });
  test::check_message_all(load_error(path), ErrorCode::Unsupported, {path, "general.architecture is 'falcon', expected 'llama'"});
  const std::string number = with_change("arch-number.gguf", [](GgufWriter& w) { w.set_uint32("general.architecture", 7); });
  test::check_message_all(load_error(number), ErrorCode::InvalidFormat, {number, "general.architecture"});
}

TEST_CASE("a missing GGUF key the model needs is refused, naming the key") {
  for (const std::string key : {"general.architecture", "llama.embedding_length", "llama.block_count",
                                "llama.attention.head_count", "llama.feed_forward_length", "llama.context_length",
                                "llama.attention.layer_norm_rms_epsilon", "tokenizer.ggml.model",
                                "tokenizer.ggml.tokens"}) {
    INFO("dropped: " << key);
    const std::string path = rewrite_gguf("missing-key.gguf", {{key}, {}, nullptr});
    test::check_message_all(load_error(path), ErrorCode::InvalidFormat, {path, "key '" + key + "': missing key"});
  }
}

TEST_CASE("absurd GGUF hyper-parameters are refused at load, naming the key, before anything is sized by them") {
  struct Case {
    const char* what;
    std::function<void(GgufWriter&)> change;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"head_count not dividing dim", [](GgufWriter& w) { w.set_uint32("llama.attention.head_count", 5); },
       {"llama.embedding_length", "= 64 is not divisible by", "llama.attention.head_count", "= 5"}},
      {"head_count_kv not dividing head_count", [](GgufWriter& w) { w.set_uint32("llama.attention.head_count_kv", 3); },
       {"is not a multiple of", "llama.attention.head_count_kv", "= 3"}},
      {"odd head_dim", [](GgufWriter& w) { w.set_uint32("llama.embedding_length", 68); },
       {"head_dim 17 must be", "llama.embedding_length", "and even"}},
      {"zero layers", [](GgufWriter& w) { w.set_uint32("llama.block_count", 0); },
       {"llama.block_count", "is 0, expected a value in [1, 1024]"}},
      {"negative layers", [](GgufWriter& w) { w.set_int32("llama.block_count", -1); }, {"llama.block_count", "-1"}},
      {"2^40 layers", [](GgufWriter& w) { w.set_uint64("llama.block_count", uint64_t{1} << 40); },
       {"llama.block_count", "is 1099511627776, expected a value in [1, 1024]"}},
      {"2^64 - 1 layers", [](GgufWriter& w) { w.set_uint64("llama.block_count", ~uint64_t{0}); },
       {"llama.block_count is 18446744073709551615, far beyond any model"}},
      {"zero dim", [](GgufWriter& w) { w.set_uint32("llama.embedding_length", 0); },
       {"llama.embedding_length", "is 0"}},
      {"2^30 dim", [](GgufWriter& w) { w.set_uint32("llama.embedding_length", 1u << 30); },
       {"llama.embedding_length", "is 1073741824, expected a value in [1, 65536]"}},
      {"negative dim", [](GgufWriter& w) { w.set_int64("llama.embedding_length", -64); }, {"llama.embedding_length"}},
      {"dim of the wrong type", [](GgufWriter& w) { w.set_string("llama.embedding_length", "64"); },
       {"key 'llama.embedding_length'", "STRING"}},
      {"zero heads", [](GgufWriter& w) { w.set_uint32("llama.attention.head_count", 0); },
       {"llama.attention.head_count", "is 0"}},
      {"zero kv heads", [](GgufWriter& w) { w.set_uint32("llama.attention.head_count_kv", 0); },
       {"llama.attention.head_count_kv", "is 0"}},
      {"2^40 ffn", [](GgufWriter& w) { w.set_uint64("llama.feed_forward_length", uint64_t{1} << 40); },
       {"llama.feed_forward_length", "is 1099511627776"}},
      {"zero context", [](GgufWriter& w) { w.set_uint32("llama.context_length", 0); },
       {"llama.context_length", "is 0"}},
      {"a context whose KV cache would take terabytes", [](GgufWriter& w) { w.set_uint64("llama.context_length", uint64_t{1} << 40); },
       {"llama.context_length", "is 1099511627776, expected a value in [1, 1048576]"}},
      {"zero rms epsilon", [](GgufWriter& w) { w.set_float32("llama.attention.layer_norm_rms_epsilon", 0.f); },
       {"llama.attention.layer_norm_rms_epsilon", "is 0"}},
      {"NaN rms epsilon",
       [](GgufWriter& w) { w.set_float32("llama.attention.layer_norm_rms_epsilon", std::numeric_limits<float>::quiet_NaN()); },
       {"llama.attention.layer_norm_rms_epsilon", "nan"}},
      {"zero rope theta", [](GgufWriter& w) { w.set_float32("llama.rope.freq_base", 0.f); },
       {"llama.rope.freq_base", "is 0"}},
  };
  for (const Case& c : cases) {
    INFO("case: " << std::string(c.what));
    const std::string path = with_change("absurd-hparam.gguf", c.change);
    std::vector<std::string> parts = c.parts;
    parts.push_back(path);
    test::check_message_all(load_error(path), ErrorCode::InvalidFormat, parts);
  }
}

TEST_CASE("RoPE over part of a head or with scaling is Unsupported, naming the key") {
  const std::string partial = with_change("rope-dims.gguf", [](GgufWriter& w) { w.set_uint32("llama.rope.dimension_count", 8); });
  test::check_message_all(load_error(partial), ErrorCode::Unsupported,
              {partial, "llama.rope.dimension_count is 8, only full-head RoPE (head_dim 16)"});
  const std::string scaled = with_change("rope-scaling.gguf", [](GgufWriter& w) { w.set_string("llama.rope.scaling.type", "linear"); });
  test::check_message_all(load_error(scaled), ErrorCode::Unsupported, {scaled, "llama.rope.scaling.type 'linear'"});
}

// ---- vocabulary ----

TEST_CASE("a vocabulary that disagrees with token_embd or llama.vocab_size is refused, naming both") {
  const GgufFile base = GgufFile::open(base_gguf());
  auto first = [](auto values, size_t n) { values.resize(n); return values; };
  const std::string shorter = with_change("vocab-299.gguf", [&](GgufWriter& w) {
    w.set_array("tokenizer.ggml.tokens", first(base.get_string_array("tokenizer.ggml.tokens"), 299));
    w.set_array("tokenizer.ggml.scores", first(base.get_float_array("tokenizer.ggml.scores"), 299));
    w.set_array("tokenizer.ggml.token_type", first(base.get_int_array("tokenizer.ggml.token_type"), 299));
    w.set_uint32("llama.vocab_size", 299);
  });
  test::check_message_all(load_error(shorter), ErrorCode::InvalidFormat,
              {shorter, "tensor 'token_embd.weight' has 300 rows but tokenizer.ggml.tokens has 299 entries"});
  const std::string declared = with_change("vocab-size-key.gguf", [](GgufWriter& w) { w.set_uint32("llama.vocab_size", 301); });
  test::check_message_all(load_error(declared), ErrorCode::InvalidFormat,
              {declared, "llama.vocab_size is 301 but tokenizer.ggml.tokens has 300 entries"});
}

TEST_CASE("tokenizer arrays of mismatched lengths are refused, naming the shorter or longer key") {
  const GgufFile base = GgufFile::open(base_gguf());
  std::vector<float> scores = base.get_float_array("tokenizer.ggml.scores");
  scores.pop_back();
  const std::string short_scores = with_change("short-scores.gguf", [&](GgufWriter& w) { w.set_array("tokenizer.ggml.scores", scores); });
  test::check_message_all(load_error(short_scores), ErrorCode::InvalidFormat,
              {short_scores, "tokenizer.ggml.scores has 299 entries but tokenizer.ggml.tokens has 300"});
  std::vector<int32_t> types = base.get_int_array("tokenizer.ggml.token_type");
  types.push_back(1);
  const std::string long_types = with_change("long-types.gguf", [&](GgufWriter& w) { w.set_array("tokenizer.ggml.token_type", types); });
  test::check_message_all(load_error(long_types), ErrorCode::InvalidFormat,
              {long_types, "tokenizer.ggml.token_type has 301 entries but tokenizer.ggml.tokens has 300"});
  const std::string empty = with_change("empty-vocab.gguf", [](GgufWriter& w) {
    w.set_array("tokenizer.ggml.tokens", std::vector<std::string>{});
    w.set_array("tokenizer.ggml.scores", std::vector<float>{});
    w.set_array("tokenizer.ggml.token_type", std::vector<int32_t>{});
  });
  test::check_message_all(load_error(empty), ErrorCode::InvalidFormat, {empty, "tokenizer.ggml.tokens is empty"});
}

TEST_CASE("bos, eos and unknown ids outside the vocabulary are refused, naming the key") {
  for (const auto& [key, id] : {std::pair<std::string, uint64_t>{"tokenizer.ggml.bos_token_id", 300},
                                std::pair<std::string, uint64_t>{"tokenizer.ggml.eos_token_id", uint64_t{1} << 40},
                                std::pair<std::string, uint64_t>{"tokenizer.ggml.unknown_token_id", 5000}}) {
    INFO("key: " << key);
    const std::string path = with_change("token-id.gguf", [&, key = key, id = id](GgufWriter& w) { w.set_uint64(key, id); });
    test::check_message_all(load_error(path), ErrorCode::InvalidFormat,
                {path, key + " is " + std::to_string(id) + ", outside the vocabulary of 300"});
  }
}

TEST_CASE("a bad token kind or a Byte token not spelled <0xNN> is refused, naming the file and the key") {
  const GgufFile base = GgufFile::open(base_gguf());
  std::vector<int32_t> types = base.get_int_array("tokenizer.ggml.token_type");
  types[5] = 9;
  const std::string kind = with_change("token-kind.gguf", [&](GgufWriter& w) { w.set_array("tokenizer.ggml.token_type", types); });
  test::check_message_all(load_error(kind), ErrorCode::InvalidFormat, {kind, "tokenizer.ggml.token_type[5] is 9, expected 1..6"});
  types = base.get_int_array("tokenizer.ggml.token_type");
  types[299] = 6;  // a merged piece marked Byte
  const std::string byte = with_change("byte-kind.gguf", [&](GgufWriter& w) { w.set_array("tokenizer.ggml.token_type", types); });
  test::check_message_all(load_error(byte), ErrorCode::InvalidFormat, {byte, "tokenizer.ggml.tokens", "token 299 is a Byte token"});
  const std::string model = with_change("tokenizer-gpt2.gguf", [](GgufWriter& w) { w.set_string("tokenizer.ggml.model", "gpt2"); });
  test::check_message_all(load_error(model), ErrorCode::Unsupported, {model, "tokenizer.ggml.model is 'gpt2'"});
}

// ---- broken files and paths ----

TEST_CASE("a GGUF cut short anywhere, or with the wrong magic, is refused with an error naming the file") {
  const std::vector<uint8_t> bytes = read_bytes(base_gguf());
  const std::string path = scratch_path("truncated.gguf");
  for (const size_t n : {size_t{0}, size_t{3}, size_t{4}, size_t{8}, size_t{20}, size_t{24}, size_t{100}, size_t{1000},
                         bytes.size() / 4, bytes.size() / 2, bytes.size() - 1}) {
    INFO("kept " << n << " of " << bytes.size() << " bytes");
    write_bytes(path, {bytes.begin(), bytes.begin() + static_cast<long>(n)});
    const Error e = load_error(path);
    CHECK(e.code() == ErrorCode::InvalidFormat);
    CHECK(std::string(e.what()).find(path) != std::string::npos);
  }
  std::vector<uint8_t> wrong_magic = bytes;
  wrong_magic[0] = 'X';
  write_bytes(path, wrong_magic);
  test::check_message_all(load_error(path), ErrorCode::InvalidFormat, {path, "magic"});
}

TEST_CASE("a path that does not exist, is not a file, or is a folder without config.json is refused as Io") {
  const std::string nowhere = scratch_path("no-such-model.gguf");
  test::check_message_all(load_error(nowhere), ErrorCode::Io, {nowhere, "No such file or directory"});
  const std::string fifo = scratch_path("model-fifo");
  ::unlink(fifo.c_str());
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);  // opening it would block until a writer came
  test::check_message_all(load_error(fifo), ErrorCode::Io, {fifo, "neither a .gguf file nor a Hugging Face folder"});
  const std::string empty_dir = scratch_path("empty-folder");
  std::filesystem::create_directories(empty_dir);
  test::check_message_all(load_error(empty_dir), ErrorCode::Io, {empty_dir + "/config.json"});
}

// ---- Hugging Face folders ----

TEST_CASE("config.json that is not JSON, not an object or too large is refused, naming it") {
  const std::string dir = copy_hf("hf-not-json");
  const std::string config = dir + "/config.json";
  for (const std::string& text : {std::string("{\"hidden_size\": "), std::string("\xff\xfe"), std::string("")}) {
    write_text(config, text);
    test::check_message_all(load_error(dir), ErrorCode::InvalidFormat, {config, "not valid JSON"});
  }
  write_text(config, "[1, 2]");
  test::check_message_all(load_error(dir), ErrorCode::InvalidFormat, {config, "expected a JSON object"});
  write_text(config, std::string(17 << 20, ' '));
  test::check_message_all(load_error(dir), ErrorCode::InvalidFormat, {config, "too large for a config.json"});
  std::filesystem::remove(config);
  std::filesystem::create_directory(config);
  test::check_message_all(load_error(dir), ErrorCode::Io, {config, "not a regular file"});
}

TEST_CASE("config.json fields of the wrong type are refused, naming the field, without a JSON exception leaking") {
  struct Case {
    const char* key;
    nlohmann::json value;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"hidden_size", "64", "field 'hidden_size' is \"64\", expected an integer"},
      {"num_hidden_layers", 1.5, "field 'num_hidden_layers' is 1.5, expected an integer"},
      {"num_hidden_layers", nlohmann::json::array({2}), "field 'num_hidden_layers' is [2], expected an integer"},
      {"num_attention_heads", nullptr, "field 'num_attention_heads' is missing"},
      {"model_type", 7, "field 'model_type' is 7, expected a string"},
      {"hidden_act", true, "field 'hidden_act' is true, expected a string"},
      {"tie_word_embeddings", "yes", "field 'tie_word_embeddings' is \"yes\", expected true or false"},
      {"rms_norm_eps", "small", "field 'rms_norm_eps' is \"small\", expected a number"},
      {"vocab_size", ~uint64_t{0}, "field 'vocab_size' is 18446744073709551615, far beyond any model"},
  };
  for (const Case& c : cases) {
    INFO("field: " << c.key << " = " << c.value.dump());
    const std::string dir = hf_with_config("hf-wrong-type", c.key, c.value);
    test::check_message_all(load_error(dir), ErrorCode::InvalidFormat, {dir + "/config.json", c.message});
  }
}

TEST_CASE("config.json of another model type, activation, RoPE scaling or head_dim is Unsupported, naming the field") {
  struct Case {
    const char* key;
    nlohmann::json value;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"model_type", "mistral", "model_type is 'mistral', expected 'llama'"},
      {"hidden_act", "gelu", "hidden_act is 'gelu', only 'silu'"},
      {"rope_scaling", {{"type", "linear"}, {"factor", 2.0}}, "rope_scaling is not supported"},
      {"head_dim", 8, "head_dim is 8, only hidden_size / num_attention_heads = 16"},
  };
  for (const Case& c : cases) {
    INFO("field: " << c.key);
    const std::string dir = hf_with_config("hf-unsupported", c.key, c.value);
    test::check_message_all(load_error(dir), ErrorCode::Unsupported, {dir + "/config.json", c.message});
  }
}

TEST_CASE("absurd config.json hyper-parameters are refused at load, naming the field") {
  struct Case {
    const char* key;
    nlohmann::json value;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"num_attention_heads", 5, {"hidden_size) = 64 is not divisible by", "num_attention_heads) = 5"}},
      {"num_key_value_heads", 3, {"is not a multiple of", "num_key_value_heads) = 3"}},
      {"num_hidden_layers", 0, {"num_hidden_layers) is 0"}},
      {"num_hidden_layers", -2, {"num_hidden_layers) is -2"}},
      {"hidden_size", int64_t{1} << 40, {"hidden_size) is 1099511627776"}},
      {"intermediate_size", -1, {"intermediate_size) is -1"}},
      {"max_position_embeddings", int64_t{1} << 40, {"max_position_embeddings) is 1099511627776, expected a value in [1, 1048576]"}},
      {"rms_norm_eps", 1e300, {"rms_norm_eps) is inf"}},
      {"vocab_size", 301, {"vocab_size is 301 but", "tokenizer.model has 300 pieces"}},
  };
  for (const Case& c : cases) {
    INFO("field: " << c.key << " = " << c.value.dump());
    const std::string dir = hf_with_config("hf-absurd", c.key, c.value);
    std::vector<std::string> parts = c.parts;
    parts.push_back(dir + "/config.json");
    test::check_message_all(load_error(dir), ErrorCode::InvalidFormat, parts);
  }
}

TEST_CASE("a Hugging Face tensor that is missing, wrongly shaped or of an integer dtype is named as the checkpoint names it") {
  const std::string missing = hf_with_tensors("hf-missing-tensor", "model.layers.1.mlp.up_proj.weight");
  test::check_message_all(load_error(missing), ErrorCode::InvalidFormat,
              {missing, "tensor 'model.layers.1.mlp.up_proj.weight' is missing"});
  const std::string lm_head = hf_with_tensors("hf-missing-head", "lm_head.weight");
  test::check_message_all(load_error(lm_head), ErrorCode::InvalidFormat, {lm_head, "tensor 'lm_head.weight' is missing"});

  const std::string shaped = hf_with_tensors("hf-wrong-shape", "model.layers.0.self_attn.k_proj.weight",
                                             {{"model.layers.0.self_attn.k_proj.weight", "F32", {64, 64},
                                               std::vector<uint8_t>(64 * 64 * 4)}});
  test::check_message_all(load_error(shaped), ErrorCode::InvalidFormat,
              {shaped + "/model.safetensors",
               "tensor 'model.layers.0.self_attn.k_proj.weight' has shape [64, 64], expected [32, 64]"});

  const std::string integer = hf_with_tensors("hf-int-dtype", "model.embed_tokens.weight",
                                              {{"model.embed_tokens.weight", "I32", {300, 64}, std::vector<uint8_t>(300 * 64 * 4)}});
  test::check_message_all(load_error(integer), ErrorCode::Unsupported,
              {integer + "/model.safetensors", "tensor 'model.embed_tokens.weight' has dtype I32"});
}

TEST_CASE("a safetensors index that lists a missing shard is refused, naming the index, the shard and a tensor") {
  const std::string dir = copy_hf("hf-missing-shard", base_hf_sharded());
  const std::string index_path = dir + "/model.safetensors.index.json";
  nlohmann::json index = read_json_file(index_path);
  const std::string victim = index["weight_map"].begin().key();
  index["weight_map"][victim] = "model-00009-of-00009.safetensors";
  write_text(index_path, index.dump());
  test::check_message_all(load_error(dir), ErrorCode::InvalidFormat,
              {index_path, "shard '" + dir + "/model-00009-of-00009.safetensors'", "tensor '" + victim + "'", "does not exist"});
}

TEST_CASE("a Hugging Face folder whose model.safetensors is not a plain file is refused as Io without blocking") {
  const std::string dir = copy_hf("hf-fifo-weights");
  const std::string weights = dir + "/model.safetensors";
  std::filesystem::remove(weights);
  REQUIRE(::mkfifo(weights.c_str(), 0600) == 0);
  test::check_message_all(load_error(dir), ErrorCode::Io, {weights, "not a regular file"});
}

TEST_CASE("a Hugging Face folder without tokenizer.model is refused as Io, naming the file") {
  const std::string dir = copy_hf("hf-no-tokenizer");
  std::filesystem::remove(dir + "/tokenizer.model");
  test::check_message_all(load_error(dir), ErrorCode::Io, {dir + "/tokenizer.model"});
}

// ---- the session's KV cache ----

TEST_CASE("a session context longer than the model's, or negative, is refused, naming the option and the model") {
  const auto model = LlamaModel::load(base_gguf());
  for (const int64_t context : {int64_t{65}, int64_t{1} << 40, std::numeric_limits<int64_t>::max(), int64_t{-1}}) {
    INFO("context_length " << context);
    LlamaSessionOptions options;
    options.n_threads = 1;
    options.context_length = context;
    test::check_message_all(error_from([&] { LlamaSession session(model, options); }), ErrorCode::InvalidArgument,
                {base_gguf(), "LlamaSessionOptions::context_length must be in [0, 64]", std::to_string(context)});
  }
}

TEST_CASE("a session whose KV cache would exceed the machine's memory is refused before allocating it") {
  // The model's context is the limit, 2^20 positions: 2 × 2^20 × kv_dim 32 × 4 B = 256 MiB of cache
  // per layer, and about 17 KiB of Q4_0 weights. Enough layers make the cache twice the memory.
  const uint64_t memory = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(::sysconf(_SC_PAGE_SIZE));
  const uint64_t per_layer = uint64_t{256} << 20;
  const uint64_t layers = 2 * memory / per_layer + 1;
  if (layers > 1024) {
    MESSAGE("skipped: " << memory << " bytes of memory is more than 1024 layers of a 2^20 context can exceed");
    return;
  }
  const GgufFile base = GgufFile::open(base_gguf());
  std::set<std::string> layer_tensors;
  for (const GgufTensorInfo& t : base.tensors())
    if (t.name.rfind("blk.", 0) == 0) layer_tensors.insert(t.name);
  const std::string path = rewrite_gguf("kv-beyond-memory.gguf", {{}, layer_tensors, [&](GgufWriter& w) {
    w.set_uint32("llama.block_count", static_cast<uint32_t>(layers));
    w.set_uint32("llama.context_length", 1u << 20);
    for (uint64_t l = 0; l < layers; ++l) {
      auto name = [&](const char* part) { return "blk." + std::to_string(l) + "." + part + ".weight"; };
      auto matrix = [&](const char* part, uint64_t rows, uint64_t cols) {
        w.add_tensor(name(part), TensorType::Q4_0, {cols, rows}, zeros(TensorType::Q4_0, rows * cols));
      };
      for (const char* norm : {"attn_norm", "ffn_norm"}) w.add_tensor(name(norm), TensorType::F32, {64}, zeros(TensorType::F32, 64));
      matrix("attn_q", 64, 64);
      matrix("attn_k", 32, 64);
      matrix("attn_v", 32, 64);
      matrix("attn_output", 64, 64);
      matrix("ffn_gate", 96, 64);
      matrix("ffn_up", 96, 64);
      matrix("ffn_down", 64, 96);
    }
  }});
  const auto model = LlamaModel::load(path);
  REQUIRE(model->config().n_layers == static_cast<int64_t>(layers));
  LlamaSessionOptions options;
  options.n_threads = 1;
  test::check_message_all(error_from([&] { LlamaSession session(model, options); }), ErrorCode::InvalidArgument,
              {path, "a KV cache for context_length 1048576 needs", "more than this machine's",
               "pass a smaller LlamaSessionOptions::context_length"});
  options.context_length = 16;
  LlamaSession small(model, options);
  CHECK(small.context_length() == 16);
  CHECK(small.forward_tokens({1, 2}).size(0) == 300);
}
