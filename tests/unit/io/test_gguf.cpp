// GgufWriter → GgufFile round trips and the typed getters' contract (gguf.hpp).
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/gguf.hpp"
#include "support/expect_error.hpp"

using namespace ophtha;
using ophtha::test::error_from;
using ophtha::test::check_message;

namespace {

std::string work_path(const std::string& name) {
  const std::string dir = std::string(OPHTHA_TEST_WORK_DIR) + "/test_gguf";
  std::filesystem::create_directories(dir);
  return dir + "/" + name;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (uint8_t& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

}  // namespace

TEST_CASE("every scalar metadata type written by GgufWriter reads back with its type and value") {
  GgufWriter w;
  w.set_uint8("t.u8", 200);
  w.set_int8("t.i8", -100);
  w.set_uint16("t.u16", 60000);
  w.set_int16("t.i16", -30000);
  w.set_uint32("t.u32", 4000000000u);
  w.set_int32("t.i32", -2000000000);
  w.set_uint64("t.u64", 18000000000000000000ull);
  w.set_int64("t.i64", -9000000000000000000ll);
  w.set_float32("t.f32", 1.5f);
  w.set_float64("t.f64", -2.25e300);
  w.set_bool("t.bool", true);
  w.set_bool("t.false", false);
  w.set_string("t.str", std::string("h\xc3\xa9llo\0x", 8));
  const std::string path = work_path("scalars.gguf");
  w.write(path);

  const GgufFile f = GgufFile::open(path);
  CHECK(f.version() == 3);
  CHECK(f.path() == path);
  CHECK(f.alignment() == 32);
  CHECK(f.keys() == std::vector<std::string>{"t.u8", "t.i8", "t.u16", "t.i16", "t.u32", "t.i32",
                                             "t.u64", "t.i64", "t.f32", "t.f64", "t.bool",
                                             "t.false", "t.str"});
  CHECK(f.type_of("t.u8") == GgufType::U8);
  CHECK(f.type_of("t.i8") == GgufType::I8);
  CHECK(f.type_of("t.u16") == GgufType::U16);
  CHECK(f.type_of("t.i16") == GgufType::I16);
  CHECK(f.type_of("t.u32") == GgufType::U32);
  CHECK(f.type_of("t.i32") == GgufType::I32);
  CHECK(f.type_of("t.u64") == GgufType::U64);
  CHECK(f.type_of("t.i64") == GgufType::I64);
  CHECK(f.type_of("t.f32") == GgufType::F32);
  CHECK(f.type_of("t.f64") == GgufType::F64);
  CHECK(f.type_of("t.bool") == GgufType::BOOL);
  CHECK(f.type_of("t.str") == GgufType::STRING);
  CHECK(f.get_uint("t.u8") == 200);
  CHECK(f.get_uint("t.u16") == 60000);
  CHECK(f.get_uint("t.u32") == 4000000000u);
  CHECK(f.get_uint("t.u64") == 18000000000000000000ull);
  CHECK(f.get_float("t.f32") == 1.5);
  CHECK(f.get_float("t.f64") == -2.25e300);
  CHECK(f.find_bool("t.bool") == true);
  CHECK(f.find_bool("t.false") == false);
  CHECK(f.get_string("t.str") == std::string("h\xc3\xa9llo\0x", 8));
  CHECK(f.find_string("t.str") == std::string("h\xc3\xa9llo\0x", 8));
  CHECK(f.tensors().empty());
}

TEST_CASE("every array element type written by GgufWriter reads back") {
  GgufWriter w;
  w.set_array<uint8_t>("a.u8", {0, 255});
  w.set_array<int8_t>("a.i8", {-128, 127});
  w.set_array<uint16_t>("a.u16", {1, 65535});
  w.set_array<int16_t>("a.i16", {-32768, 32767});
  w.set_array<uint32_t>("a.u32", {7, 2147483647u});
  w.set_array<int32_t>("a.i32", {-2147483647 - 1, 2147483647});
  w.set_array<uint64_t>("a.u64", {3, 2147483647ull});
  w.set_array<int64_t>("a.i64", {-2147483648ll, 5});
  w.set_array<float>("a.f32", {0.5f, -1.0f, 3.25f});
  w.set_array<double>("a.f64", {0.25, 1e10});
  w.set_array<bool>("a.bool", {true, false, true});
  w.set_array<std::string>("a.str", {"", "<s>", "\xe2\x96\x81the"});
  w.set_array<float>("a.empty", {});
  const std::string path = work_path("arrays.gguf");
  w.write(path);

  const GgufFile f = GgufFile::open(path);
  const std::pair<const char*, GgufType> element_types[] = {
      {"a.u8", GgufType::U8},   {"a.i8", GgufType::I8},     {"a.u16", GgufType::U16},
      {"a.i16", GgufType::I16}, {"a.u32", GgufType::U32},   {"a.i32", GgufType::I32},
      {"a.u64", GgufType::U64}, {"a.i64", GgufType::I64},   {"a.f32", GgufType::F32},
      {"a.f64", GgufType::F64}, {"a.bool", GgufType::BOOL}, {"a.str", GgufType::STRING}};
  for (const auto& [key, type] : element_types) {
    INFO("key " << std::string(key));
    CHECK(f.type_of(key) == GgufType::ARRAY);
    CHECK(f.array_type_of(key) == type);
  }
  CHECK(f.get_int_array("a.u8") == std::vector<int32_t>{0, 255});
  CHECK(f.get_int_array("a.i8") == std::vector<int32_t>{-128, 127});
  CHECK(f.get_int_array("a.u16") == std::vector<int32_t>{1, 65535});
  CHECK(f.get_int_array("a.i16") == std::vector<int32_t>{-32768, 32767});
  CHECK(f.get_int_array("a.u32") == std::vector<int32_t>{7, 2147483647});
  CHECK(f.get_int_array("a.i32") == std::vector<int32_t>{-2147483647 - 1, 2147483647});
  CHECK(f.get_int_array("a.u64") == std::vector<int32_t>{3, 2147483647});
  CHECK(f.get_int_array("a.i64") == std::vector<int32_t>{-2147483647 - 1, 5});
  CHECK(f.get_float_array("a.f32") == std::vector<float>{0.5f, -1.0f, 3.25f});
  CHECK(f.get_float_array("a.f64") == std::vector<float>{0.25f, 1e10f});
  CHECK(f.get_string_array("a.str") == std::vector<std::string>{"", "<s>", "\xe2\x96\x81the"});
  CHECK(f.get_float_array("a.empty").empty());
}

TEST_CASE("tensors of every TensorType round-trip with their shape, bytes and alignment") {
  struct Case {
    const char* name;
    TensorType type;
    std::vector<uint64_t> ne;
  };
  const std::vector<Case> cases = {{"f32", TensorType::F32, {3, 5}},
                                   {"f16", TensorType::F16, {7}},
                                   {"bf16", TensorType::BF16, {2, 3, 4}},
                                   {"q8_0", TensorType::Q8_0, {64, 3}},
                                   {"q4_0", TensorType::Q4_0, {32, 1, 2, 3}}};
  for (const uint64_t alignment : {uint64_t{32}, uint64_t{8}, uint64_t{256}}) {
    INFO("alignment " << alignment);
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    if (alignment != 32) w.set_uint32("general.alignment", static_cast<uint32_t>(alignment));
    std::vector<std::vector<uint8_t>> contents;
    for (size_t i = 0; i < cases.size(); ++i) {
      uint64_t n = 1;
      for (const uint64_t d : cases[i].ne) n *= d;
      contents.push_back(random_bytes(*tensor_bytes(cases[i].type, n), static_cast<uint32_t>(i)));
      w.add_tensor(cases[i].name, cases[i].type, cases[i].ne, contents.back());
    }
    const std::string path = work_path("tensors.gguf");
    w.write(path);
    const GgufFile f = GgufFile::open(path);
    CHECK(f.alignment() == alignment);
    REQUIRE(f.tensors().size() == cases.size());
    for (size_t i = 0; i < cases.size(); ++i) {
      const GgufTensorInfo& t = f.tensors()[i];
      INFO("tensor " << t.name);
      CHECK(t.name == cases[i].name);
      CHECK(t.type == cases[i].type);
      CHECK(t.ne == cases[i].ne);
      CHECK(t.nbytes == contents[i].size());
      CHECK(t.offset % alignment == 0);
      CHECK(static_cast<uint64_t>(t.data - f.mapping()->data()) % alignment == 0);
      CHECK(std::memcmp(t.data, contents[i].data(), contents[i].size()) == 0);
      CHECK(f.find_tensor(cases[i].name) == &t);
    }
    CHECK(f.find_tensor("absent") == nullptr);
  }
}

TEST_CASE("a version-2 file (same layout as 3 for little-endian) is read") {
  GgufWriter w;
  w.set_uint32("llama.block_count", 2);
  w.add_tensor("x", TensorType::F32, {4}, random_bytes(16, 1));
  const std::string path = work_path("v2.gguf");
  w.write(path);
  {
    std::FILE* fp = std::fopen(path.c_str(), "r+b");
    REQUIRE(fp);
    const uint32_t version = 2;
    std::fseek(fp, 4, SEEK_SET);
    std::fwrite(&version, 4, 1, fp);
    std::fclose(fp);
  }
  const GgufFile f = GgufFile::open(path);
  CHECK(f.version() == 2);
  CHECK(f.get_uint("llama.block_count") == 2);
  CHECK(f.tensors().size() == 1);
}

TEST_CASE("getters name the file, the key and both types when the type is wrong") {
  GgufWriter w;
  w.set_int32("neg", -5);
  w.set_uint32("count", 7);
  w.set_string("name", "x");
  w.set_float32("eps", 1e-5f);
  w.set_array<uint64_t>("big", {1, 3000000000ull});
  w.set_array<int64_t>("very_negative", {-3000000000ll});
  w.set_array<std::string>("tokens", {"a"});
  w.set_uint8("flag", 1);
  const std::string path = work_path("getters.gguf");
  w.write(path);
  const GgufFile f = GgufFile::open(path);

  check_message(error_from([&] { f.get_uint("neg"); }), ErrorCode::InvalidFormat,
                "key 'neg': is -5, expected a non-negative integer");
  check_message(error_from([&] { f.get_string("count"); }), ErrorCode::InvalidFormat,
                "key 'count': has type U32, expected STRING");
  check_message(error_from([&] { f.get_uint("name"); }), ErrorCode::InvalidFormat,
                "has type STRING, expected an integer");
  check_message(error_from([&] { f.get_float("count"); }), ErrorCode::InvalidFormat,
                "has type U32, expected F32 or F64");
  check_message(error_from([&] { f.find_bool("flag"); }), ErrorCode::InvalidFormat,
                "has type U8, expected BOOL");
  check_message(error_from([&] { f.get_uint("absent"); }), ErrorCode::InvalidFormat,
                "key 'absent': missing key");
  check_message(error_from([&] { f.type_of("absent"); }), ErrorCode::InvalidFormat, "missing key");
  check_message(error_from([&] { f.get_int_array("big"); }), ErrorCode::InvalidFormat,
                "element 1 is 3000000000, which does not fit in int32");
  check_message(error_from([&] { f.get_int_array("very_negative"); }), ErrorCode::InvalidFormat,
                "element 0 is -3000000000");
  check_message(error_from([&] { f.get_float_array("tokens"); }), ErrorCode::InvalidFormat,
                "is an array of STRING, expected an array of F32 or F64");
  check_message(error_from([&] { f.get_string_array("count"); }), ErrorCode::InvalidFormat,
                "has type U32, expected an array of STRING");
  check_message(error_from([&] { f.get_string("eps"); }), ErrorCode::InvalidFormat, path);

  CHECK(f.get_uint("count") == 7);  // any integer type is accepted
  CHECK(f.find_uint("flag") == 1);
  CHECK(f.find_uint("absent") == std::nullopt);
  CHECK(f.find_float("absent") == std::nullopt);
  CHECK(f.find_string("absent") == std::nullopt);
  CHECK(f.find_bool("absent") == std::nullopt);
  CHECK(f.get_float("eps") == doctest::Approx(1e-5));
  CHECK(f.has("eps"));
  CHECK_FALSE(f.has("absent"));
}

TEST_CASE("copies of a GgufFile keep the mapping and tensor pointers valid after the original goes") {
  GgufWriter w;
  const std::vector<uint8_t> bytes = random_bytes(32, 3);
  w.add_tensor("w", TensorType::F32, {8}, bytes);
  const std::string path = work_path("copies.gguf");
  w.write(path);
  std::optional<GgufFile> copy;
  {
    GgufFile original = GgufFile::open(path);
    copy = original;
    GgufFile moved = std::move(original);
    CHECK(moved.find_tensor("w") == copy->find_tensor("w"));
  }
  std::filesystem::remove(path);  // the mapping outlives the directory entry
  const GgufTensorInfo* t = copy->find_tensor("w");
  REQUIRE(t);
  CHECK(std::memcmp(t->data, bytes.data(), bytes.size()) == 0);
}

TEST_CASE("setting a key twice keeps its first position and the last value") {
  GgufWriter w;
  w.set_uint32("a", 1);
  w.set_string("b", "x");
  w.set_float32("a", 2.0f);
  const std::string path = work_path("reset.gguf");
  w.write(path);
  const GgufFile f = GgufFile::open(path);
  CHECK(f.keys() == std::vector<std::string>{"a", "b"});
  CHECK(f.type_of("a") == GgufType::F32);
}

TEST_CASE("GgufWriter refuses tensors and alignments the reader would reject") {
  GgufWriter w;
  check_message(error_from([&] { w.add_tensor("x", TensorType::F32, {4}, random_bytes(15, 0)); }),
                ErrorCode::InvalidArgument, "15 bytes given");
  check_message(error_from([&] { w.add_tensor("x", TensorType::Q8_0, {31}, random_bytes(34, 0)); }),
                ErrorCode::InvalidArgument, "not a multiple of the Q8_0 block size 32");
  // 16 × 2 = 32 elements fill one block, but a row of 16 would split it: refused like the reader does.
  check_message(error_from([&] { w.add_tensor("x", TensorType::Q8_0, {16, 2}, random_bytes(34, 0)); }),
                ErrorCode::InvalidArgument, "ne[0] = 16 is not a multiple");
  check_message(error_from([&] { w.add_tensor("x", TensorType::F32, {4, 0}, {}); }),
                ErrorCode::InvalidArgument, "zero dimension");
  check_message(error_from([&] { w.add_tensor("x", TensorType::F32, {1, 1, 1, 1, 1}, random_bytes(4, 0)); }),
                ErrorCode::InvalidArgument, "5 dimensions");
  check_message(error_from([&] { w.add_tensor(std::string(65, 'n'), TensorType::F32, {1}, random_bytes(4, 0)); }),
                ErrorCode::InvalidArgument, "longer than 64 bytes");
  w.add_tensor("x", TensorType::F32, {1}, random_bytes(4, 0));
  check_message(error_from([&] { w.add_tensor("x", TensorType::F32, {1}, random_bytes(4, 0)); }),
                ErrorCode::InvalidArgument, "added twice");
  w.set_uint32("general.alignment", 12);
  check_message(error_from([&] { w.write(work_path("refused.gguf")); }), ErrorCode::InvalidArgument,
                "power of two");
  CHECK_FALSE(std::filesystem::exists(work_path("refused.gguf")));
}

TEST_CASE("writing over an existing file replaces it and leaves no temporary file") {
  const std::string path = work_path("replace.gguf");
  for (const uint32_t n : {1u, 2u}) {
    GgufWriter w;
    w.set_uint32("n", n);
    w.write(path);
  }
  CHECK(GgufFile::open(path).get_uint("n") == 2);
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()))
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
}
