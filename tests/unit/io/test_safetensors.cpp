// write_safetensors → SafetensorsFile round trips, and checkpoint folders (single file and shards
// listed by model.safetensors.index.json), as safetensors.hpp documents them.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/safetensors.hpp"
#include "support/expect_error.hpp"

using namespace ophtha;
using ophtha::test::error_from;
using ophtha::test::check_message;

namespace {

std::string work_dir(const std::string& name) {
  const std::string dir = std::string(OPHTHA_TEST_WORK_DIR) + "/test_safetensors/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void write_text(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

SafetensorsTensorData make_tensor(const std::string& name, const std::string& dtype,
                                  std::vector<int64_t> shape, uint32_t seed) {
  uint64_t n = *safetensors_dtype_size(dtype);
  for (const int64_t d : shape) n *= static_cast<uint64_t>(d);
  std::mt19937 rng(seed);
  std::vector<uint8_t> bytes(n);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
  return {name, dtype, std::move(shape), std::move(bytes)};
}

void check_same(const SafetensorsTensor& t, const SafetensorsTensorData& expected) {
  INFO("tensor " << expected.name);
  CHECK(t.name == expected.name);
  CHECK(t.dtype == expected.dtype);
  CHECK(t.shape == expected.shape);
  REQUIRE(t.nbytes == expected.bytes.size());
  if (t.nbytes > 0) CHECK(std::memcmp(t.data, expected.bytes.data(), t.nbytes) == 0);
}

}  // namespace

TEST_CASE("tensors of every dtype round-trip, naturally aligned, with their metadata") {
  const std::vector<std::string> dtypes = {"BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3",
                                           "I16",  "U16", "F16", "BF16",    "I32",
                                           "U32",  "F32", "F64", "I64",     "U64"};
  std::vector<SafetensorsTensorData> tensors;
  for (size_t i = 0; i < dtypes.size(); ++i)
    tensors.push_back(make_tensor("t." + dtypes[i], dtypes[i], {static_cast<int64_t>(i % 3 + 1), 3},
                                  static_cast<uint32_t>(i)));
  tensors.push_back(make_tensor("scalar", "F32", {}, 99));
  tensors.push_back(make_tensor("empty", "F16", {0, 4}, 98));
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "\xc3\xa9"}};
  const std::string path = work_dir("round_trip") + "/all.safetensors";
  write_safetensors(path, tensors, metadata);

  const SafetensorsFile f = SafetensorsFile::open(path);
  CHECK(f.metadata() == metadata);
  CHECK(f.tensors().size() == tensors.size());
  uint64_t header_len = 0;
  std::memcpy(&header_len, f.mapping()->data(), 8);
  CHECK(header_len % 8 == 0);
  for (const SafetensorsTensorData& expected : tensors) {
    const SafetensorsTensor* t = f.find(expected.name);
    REQUIRE(t);
    check_same(*t, expected);
    CHECK(t->file == path);
    CHECK(static_cast<uint64_t>(t->data - f.mapping()->data()) % *safetensors_dtype_size(t->dtype) == 0);
  }
  CHECK(f.find("absent") == nullptr);
}

TEST_CASE("safetensors_dtype_size knows the reference dtypes and refuses others") {
  CHECK(safetensors_dtype_size("BF16") == 2);
  CHECK(safetensors_dtype_size("U64") == 8);
  CHECK(safetensors_dtype_size("F8_E4M3") == 1);
  CHECK(safetensors_dtype_size("F4") == std::nullopt);
  CHECK(safetensors_dtype_size("f32") == std::nullopt);
}

TEST_CASE("write_safetensors refuses tensors the reader would reject") {
  const std::string path = work_dir("refused") + "/x.safetensors";
  SafetensorsTensorData t = make_tensor("w", "F32", {2}, 0);
  t.bytes.pop_back();
  check_message(error_from([&] { write_safetensors(path, {t}); }), ErrorCode::InvalidArgument,
                "7 bytes given");
  check_message(error_from([&] { write_safetensors(path, {{"w", "Q4", {}, {0}}}); }),
                ErrorCode::InvalidArgument, "unknown dtype 'Q4'");
  check_message(error_from([&] { write_safetensors(path, {make_tensor("w", "F32", {1}, 0), make_tensor("w", "F16", {1}, 0)}); }),
                ErrorCode::InvalidArgument, "given twice");
  check_message(error_from([&] { write_safetensors(path, {make_tensor("__metadata__", "F32", {1}, 0)}); }),
                ErrorCode::InvalidArgument, "__metadata__");
  SafetensorsTensorData negative{"n", "F32", {-1}, {}};
  check_message(error_from([&] { write_safetensors(path, {negative}); }), ErrorCode::InvalidArgument,
                "negative dimension");
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("write_safetensors refuses a tensor name or metadata that is not valid UTF-8, naming it") {
  const std::string path = work_dir("not_utf8") + "/x.safetensors";
  for (const std::string& bad : {std::string("w\xff"), std::string("\xc0\x80"), std::string("\xed\xa0\x80"),
                                std::string("\xf4\x90\x80\x80"), std::string("ab\xe2\x82")}) {
    INFO("bytes: " << bad);
    check_message(error_from([&] { write_safetensors(path, {make_tensor(bad, "F32", {1}, 0)}); }),
                  ErrorCode::InvalidArgument, "tensor name '" + bad + "' is not valid UTF-8");
    check_message(error_from([&] { write_safetensors(path, {make_tensor("w", "F32", {1}, 0)}, {{"k", bad}}); }),
                  ErrorCode::InvalidArgument, "__metadata__ entry 'k' is not valid UTF-8");
    check_message(error_from([&] { write_safetensors(path, {make_tensor("w", "F32", {1}, 0)}, {{bad, "v"}}); }),
                  ErrorCode::InvalidArgument, "__metadata__ entry '" + bad + "'");
  }
  CHECK_FALSE(std::filesystem::exists(path));
  const std::string utf8 = "w\xc3\xa9\xe2\x96\x81\xf0\x9f\x98\x80";  // é ▁ 😀
  write_safetensors(path, {make_tensor(utf8, "F32", {1}, 0)}, {{utf8, utf8}});
  const SafetensorsFile f = SafetensorsFile::open(path);
  CHECK(f.find(utf8) != nullptr);
  CHECK(f.metadata().at(utf8) == utf8);
}

TEST_CASE("an index of more JSON values than about 262,144 tensors need is refused while parsing") {
  const std::string dir = work_dir("huge_index");
  std::string json = R"({"weight_map": {)";
  for (int i = 0; i < 300'000; ++i) json += (i ? ",\"t" : "\"t") + std::to_string(i) + "\":\"a.safetensors\"";
  json += "}}";
  write_text(dir + "/model.safetensors.index.json", json);
  const Error e = error_from([&] { SafetensorsCheckpoint::open(dir); });
  check_message(e, ErrorCode::InvalidFormat, "index holds more than 266240 JSON values");
  check_message(e, ErrorCode::InvalidFormat, dir + "/model.safetensors.index.json");
}

TEST_CASE("a checkpoint folder with model.safetensors reads all of its tensors") {
  const std::string dir = work_dir("single");
  const std::vector<SafetensorsTensorData> tensors = {make_tensor("b", "F16", {2, 2}, 1),
                                                      make_tensor("a", "F32", {3}, 2)};
  write_safetensors(dir + "/model.safetensors", tensors);
  const SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::open(dir);
  CHECK(ckpt.names() == std::vector<std::string>{"a", "b"});
  check_same(*ckpt.find("a"), tensors[1]);
  check_same(*ckpt.find("b"), tensors[0]);
  CHECK(ckpt.find("c") == nullptr);
  // a path to the file itself is a one-file checkpoint too
  CHECK(SafetensorsCheckpoint::open(dir + "/model.safetensors").names().size() == 2);
}

TEST_CASE("a sharded checkpoint resolves each tensor through weight_map, and copies outlive it") {
  const std::string dir = work_dir("sharded");
  const std::vector<SafetensorsTensorData> shard1 = {make_tensor("model.embed_tokens.weight", "BF16", {8, 4}, 1),
                                                     make_tensor("model.norm.weight", "F32", {4}, 2)};
  const std::vector<SafetensorsTensorData> shard2 = {make_tensor("lm_head.weight", "BF16", {8, 4}, 3)};
  write_safetensors(dir + "/model-00001-of-00002.safetensors", shard1, {{"format", "pt"}});
  write_safetensors(dir + "/model-00002-of-00002.safetensors", shard2, {{"format", "pt"}});
  write_text(dir + "/model.safetensors.index.json", R"({
    "metadata": {"total_size": 140},
    "weight_map": {
      "lm_head.weight": "model-00002-of-00002.safetensors",
      "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
      "model.norm.weight": "model-00001-of-00002.safetensors"
    }})");
  std::optional<SafetensorsCheckpoint> copy;
  {
    const SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::open(dir);
    copy = ckpt;
  }
  CHECK(copy->names() == std::vector<std::string>{"lm_head.weight", "model.embed_tokens.weight",
                                                  "model.norm.weight"});
  check_same(*copy->find("model.embed_tokens.weight"), shard1[0]);
  check_same(*copy->find("model.norm.weight"), shard1[1]);
  check_same(*copy->find("lm_head.weight"), shard2[0]);
  CHECK(copy->find("lm_head.weight")->file == dir + "/model-00002-of-00002.safetensors");
}

TEST_CASE("a bad index.json or a missing shard throws an error naming the file and the tensor") {
  const std::string dir = work_dir("bad_index");
  write_safetensors(dir + "/a.safetensors", {make_tensor("x", "F32", {2}, 1)});
  const std::string index = dir + "/model.safetensors.index.json";
  struct Case {
    const char* what;
    std::string json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"no weight_map", R"({"metadata": {}})", "missing \"weight_map\""},
      {"weight_map not an object", R"({"weight_map": []})", "weight_map is a JSON array"},
      {"shard name not a string", R"({"weight_map": {"x": 3}})", "weight_map['x'] is a JSON number"},
      {"shard missing", R"({"weight_map": {"x": "b.safetensors"}})", "shard '" + dir + "/b.safetensors' (listed for tensor 'x') does not exist"},
      {"tensor not in its shard", R"({"weight_map": {"y": "a.safetensors"}})",
       "tensor 'y' is listed for shard 'a.safetensors', which does not hold it"},
      {"shard outside the folder", R"({"weight_map": {"x": "../a.safetensors"}})", "is not a plain file name"},
      {"not JSON", "{\"weight_map\": ", "index is not valid JSON"},
      {"repeated tensor", R"({"weight_map": {"x": "a.safetensors", "x": "a.safetensors"}})", "repeats the key 'x'"},
  };
  for (const Case& c : cases) {
    INFO("case: " << std::string(c.what));
    write_text(index, c.json);
    const Error e = error_from([&] { SafetensorsCheckpoint::open(dir); });
    check_message(e, ErrorCode::InvalidFormat, c.message);
    check_message(e, ErrorCode::InvalidFormat, index);
  }
  check_message(error_from([&] { SafetensorsCheckpoint::open(work_dir("empty")); }), ErrorCode::Io,
                "holds neither model.safetensors.index.json nor model.safetensors");
}
