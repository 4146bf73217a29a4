// Hostile GGUF files: a table of single mutations of a small valid file, every prefix of it, and
// seeded random byte flips. Each must load or throw ophtha::Error — never crash, hang or throw
// anything else — and each table entry must throw the error the reader documents (gguf.hpp).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/gguf.hpp"
#include "support/expect_error.hpp"

using namespace ophtha;

namespace {

constexpr uint32_t kU8 = 0, kU32 = 4, kF32 = 6, kBool = 7, kString = 8, kArray = 9;

template <typename T>
void put(std::vector<uint8_t>& out, T value) {
  const size_t at = out.size();
  out.resize(at + sizeof value);
  std::memcpy(out.data() + at, &value, sizeof value);
}

void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

std::vector<uint8_t> string_value(const std::string& s) {
  std::vector<uint8_t> v;
  put_string(v, s);
  return v;
}

template <typename T>
std::vector<uint8_t> scalar_value(T x) {
  std::vector<uint8_t> v;
  put(v, x);
  return v;
}

std::vector<uint8_t> array_header(uint32_t elem_type, uint64_t count) {
  std::vector<uint8_t> v;
  put(v, elem_type);
  put(v, count);
  return v;
}

std::vector<uint8_t> operator+(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct RawKv {
  std::string key;
  uint32_t type;
  std::vector<uint8_t> value;  // encoded exactly as it goes into the file
};

struct RawTensor {
  std::string name;
  std::vector<uint64_t> ne;
  uint32_t type;
  uint64_t offset;
};

// A GGUF file field by field, so a test can break any one field; serialize() writes no padding
// after the data, so every strict prefix of a valid file is truncated somewhere that matters.
struct RawGguf {
  uint32_t magic = 0x46554747;
  uint32_t version = 3;
  std::optional<uint64_t> tensor_count, kv_count;  // override the true counts
  std::vector<RawKv> kvs;
  std::vector<RawTensor> tensors;
  uint64_t alignment = 32;  // only where the data section starts; the key is in kvs
  std::vector<uint8_t> data;

  std::vector<uint8_t> serialize() const {
    std::vector<uint8_t> out;
    put(out, magic);
    put(out, version);
    put<uint64_t>(out, tensor_count.value_or(tensors.size()));
    put<uint64_t>(out, kv_count.value_or(kvs.size()));
    for (const RawKv& kv : kvs) {
      put_string(out, kv.key);
      put(out, kv.type);
      out.insert(out.end(), kv.value.begin(), kv.value.end());
    }
    for (const RawTensor& t : tensors) {
      put_string(out, t.name);
      put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
      for (const uint64_t d : t.ne) put(out, d);
      put(out, t.type);
      put(out, t.offset);
    }
    out.resize(out.size() + (alignment - out.size() % alignment) % alignment, 0);
    return out + data;
  }
};

// general.* keys, a string array, a float array, a bool, a nested array; tensors "a" (F32 4×2,
// 32 bytes at 0) and "b" (Q8_0 32, 34 bytes at 32).
RawGguf valid_file() {
  RawGguf g;
  g.kvs = {
      {"general.architecture", kString, string_value("llama")},
      {"general.alignment", kU32, scalar_value<uint32_t>(32)},
      {"llama.block_count", kU32, scalar_value<uint32_t>(1)},
      {"tokenizer.ggml.tokens", kArray, array_header(kString, 2) + string_value("a") + string_value("bc")},
      {"tokenizer.ggml.scores", kArray, array_header(kF32, 2) + scalar_value(0.5f) + scalar_value(-1.0f)},
      {"tokenizer.ggml.add_bos_token", kBool, {1}},
      {"nested", kArray, array_header(kArray, 2) + array_header(kU8, 2) + std::vector<uint8_t>{1, 2} +
                             array_header(kU8, 1) + std::vector<uint8_t>{3}},
  };
  g.tensors = {{"a", {4, 2}, 0, 0}, {"b", {32}, 8, 32}};
  g.data.resize(66);
  for (size_t i = 0; i < g.data.size(); ++i) g.data[i] = static_cast<uint8_t>(i * 7 + 1);
  return g;
}

std::string work_path(const std::string& name) {
  const std::string dir = std::string(OPHTHA_TEST_WORK_DIR) + "/test_gguf_hostile";
  std::filesystem::create_directories(dir);
  return dir + "/" + name;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f);
  if (!bytes.empty()) REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  std::fclose(f);
}

// Opens `bytes` as a GGUF file and reads every key with every getter, as a loader might.
// Returns normally or throws; the callers decide what is allowed.
void open_and_read_everything(const std::string& path) {
  const GgufFile f = GgufFile::open(path);
  for (const std::string& key : f.keys()) {
    const std::function<void()> getters[] = {
        [&] { f.get_uint(key); },         [&] { f.get_float(key); },
        [&] { f.get_string(key); },       [&] { f.find_bool(key); },
        [&] { f.get_string_array(key); }, [&] { f.get_float_array(key); },
        [&] { f.get_int_array(key); },    [&] { f.array_type_of(key); }};
    for (const auto& get : getters) {
      try {
        get();
      } catch (const Error&) {
      }
    }
  }
  uint64_t sum = 0;
  for (const GgufTensorInfo& t : f.tensors())
    for (uint64_t i = 0; i < t.nbytes; ++i) sum += t.data[i];  // touches every byte: no SIGBUS/ASan
  (void)sum;
}

// "" when `path` loads; the message of the ophtha::Error otherwise; fails on anything else.
std::string outcome(const std::string& path) {
  return test::error_message_or_empty([&] { open_and_read_everything(path); });
}

}  // namespace

TEST_CASE("the hand-built base file is valid and reads as built") {
  const std::string path = work_path("base.gguf");
  write_bytes(path, valid_file().serialize());
  const GgufFile f = GgufFile::open(path);
  CHECK(f.get_string("general.architecture") == "llama");
  CHECK(f.get_string_array("tokenizer.ggml.tokens") == std::vector<std::string>{"a", "bc"});
  CHECK(f.get_float_array("tokenizer.ggml.scores") == std::vector<float>{0.5f, -1.0f});
  CHECK(f.find_bool("tokenizer.ggml.add_bos_token") == true);
  CHECK(f.array_type_of("nested") == GgufType::ARRAY);
  REQUIRE(f.tensors().size() == 2);
  CHECK(f.tensors()[1].nbytes == 34);
  CHECK(f.tensors()[1].data[33] == static_cast<uint8_t>(65 * 7 + 1));
}

TEST_CASE("each hostile mutation of a valid GGUF file throws the documented error") {
  struct Case {
    const char* what;
    std::function<void(RawGguf&)> mutate;
    ErrorCode code;
    std::string message;
  };
  const auto set_kv = [](const std::string& key, uint32_t type, std::vector<uint8_t> value) {
    return [=](RawGguf& g) {
      for (RawKv& kv : g.kvs)
        if (kv.key == key) {
          kv.type = type;
          kv.value = value;
          return;
        }
      g.kvs.push_back({key, type, value});
    };
  };
  const auto nested_arrays = [](int depth) {
    std::vector<uint8_t> v;
    for (int i = 0; i < depth - 1; ++i) v = v + array_header(kArray, 1);
    return v + array_header(kU8, 0);
  };
  const ErrorCode invalid = ErrorCode::InvalidFormat;
  const std::vector<Case> cases = {
      {"wrong magic", [](RawGguf& g) { g.magic = 0x4c4d4747; }, invalid, "not a GGUF file"},
      {"version 1", [](RawGguf& g) { g.version = 1; }, invalid, "version 1 is not supported (only 2 and 3)"},
      {"version 4", [](RawGguf& g) { g.version = 4; }, invalid, "version 4 is not supported"},
      {"big-endian", [](RawGguf& g) { g.version = 0x03000000; }, invalid, "big-endian"},
      {"kv count beyond the file", [](RawGguf& g) { g.kv_count = uint64_t{1} << 62; }, invalid,
       "kv count 4611686018427387904 is larger than"},
      {"tensor count beyond the file", [](RawGguf& g) { g.tensor_count = ~uint64_t{0}; }, invalid,
       "tensor count"},
      {"string length beyond the file", set_kv("general.name", kString, scalar_value<uint64_t>(uint64_t{1} << 60)),
       invalid, "key 'general.name': string length 1152921504606846976 is larger than"},
      {"key longer than 65535 bytes", set_kv(std::string(65536, 'k'), kU8, {0}), invalid,
       "key length 65536 exceeds the limit of 65535"},
      {"unknown value type", set_kv("x", 13, {0}), invalid, "key 'x': unknown value type 13"},
      {"array count beyond the file", set_kv("x", kArray, array_header(kU32, uint64_t{1} << 62)), invalid,
       "array count 4611686018427387904 of U32 is larger than"},
      {"string array count beyond the file", set_kv("x", kArray, array_header(kString, uint64_t{1} << 61)),
       invalid, "array count"},
      {"array count × element size overflows", set_kv("x", kArray, array_header(10, uint64_t{1} << 61)),
       invalid, "array count"},
      {"array of unknown element type", set_kv("x", kArray, array_header(99, 1)), invalid,
       "unknown element type 99"},
      {"arrays nested 5 deep", set_kv("x", kArray, nested_arrays(5)), invalid, "nested more than 4 deep"},
      {"bool value 2", set_kv("tokenizer.ggml.add_bos_token", kBool, {2}), invalid,
       "key 'tokenizer.ggml.add_bos_token': BOOL value 2"},
      {"bool array element 3", set_kv("x", kArray, array_header(kBool, 2) + std::vector<uint8_t>{1, 3}),
       invalid, "BOOL value 3 at element 1"},
      {"duplicate key", [](RawGguf& g) { g.kvs.push_back(g.kvs[2]); }, invalid,
       "key 'llama.block_count': duplicate key"},
      {"alignment not a power of two", set_kv("general.alignment", kU32, scalar_value<uint32_t>(48)), invalid,
       "key 'general.alignment': is 48, expected a power of two of at least 8"},
      {"alignment 4", set_kv("general.alignment", kU32, scalar_value<uint32_t>(4)), invalid, "is 4, expected"},
      {"alignment 0", set_kv("general.alignment", kU32, scalar_value<uint32_t>(0)), invalid, "is 0, expected"},
      {"alignment negative", set_kv("general.alignment", 5, scalar_value<int32_t>(-32)), invalid, "is -32"},
      {"alignment a string", set_kv("general.alignment", kString, string_value("32")), invalid,
       "has type STRING, expected an integer"},
      {"tensor name longer than 64 bytes", [](RawGguf& g) { g.tensors[0].name = std::string(65, 't'); },
       invalid, "tensor name length 65 exceeds the limit of 64"},
      {"n_dims 0", [](RawGguf& g) { g.tensors[0].ne = {}; }, invalid, "tensor 'a': n_dims is 0, expected 1..4"},
      {"n_dims 5", [](RawGguf& g) { g.tensors[0].ne = {1, 1, 1, 1, 32}; }, invalid, "n_dims is 5"},
      {"zero dimension", [](RawGguf& g) { g.tensors[0].ne = {4, 0}; }, invalid, "ne[1] is 0"},
      {"element count overflows", [](RawGguf& g) { g.tensors[0].ne = {uint64_t{1} << 32, uint64_t{1} << 32}; },
       invalid, "element count overflows int64 at ne[1]"},
      {"unknown ggml type id", [](RawGguf& g) { g.tensors[0].type = 1000; }, invalid,
       "tensor 'a': unknown ggml type id 1000"},
      {"removed ggml type id", [](RawGguf& g) { g.tensors[0].type = 4; }, invalid, "unknown ggml type id 4"},
      {"ggml type Ophtha does not read", [](RawGguf& g) { g.tensors[0].type = 12; }, ErrorCode::Unsupported,
       "tensor 'a': ggml type Q4_K (12) is not supported"},
      {"row not a whole number of blocks", [](RawGguf& g) { g.tensors[1].ne = {16, 2}; }, invalid,
       "tensor 'b': ne[0] = 16 is not a multiple of the Q8_0 block size 32"},
      {"unaligned offset", [](RawGguf& g) { g.tensors[1].offset = 40; }, invalid,
       "tensor 'b': data offset 40 is not a multiple of the alignment 32"},
      {"offset past the end", [](RawGguf& g) { g.tensors[1].offset = 1 << 20; }, invalid,
       "tensor 'b': data [", },
      {"offset + data start overflows", [](RawGguf& g) { g.tensors[1].offset = ~uint64_t{31}; }, invalid,
       "runs past the end of the file"},
      {"data truncated", [](RawGguf& g) { g.data.resize(60); }, invalid, "tensor 'b': data ["},
      {"overlapping tensors", [](RawGguf& g) { g.tensors[1].offset = 0; }, invalid,
       "overlaps tensor"},
      {"duplicate tensor name", [](RawGguf& g) { g.tensors[1].name = "a"; }, invalid,
       "tensor 'a': duplicate tensor name"},
  };
  const std::string path = work_path("hostile.gguf");
  for (const Case& c : cases) {
    INFO("case: " << std::string(c.what));
    RawGguf g = valid_file();
    c.mutate(g);
    write_bytes(path, g.serialize());
    try {
      GgufFile::open(path);
      FAIL("expected an error, the file loaded");
    } catch (const Error& e) {
      const std::string message = e.what();
      INFO("message: " << message);
      CHECK(e.code() == c.code);
      CHECK(message.find(c.message) != std::string::npos);
      CHECK(message.find(path) != std::string::npos);
    }
  }
}

TEST_CASE("every strict prefix of a valid GGUF file throws a clean ophtha::Error") {
  const std::vector<uint8_t> bytes = valid_file().serialize();
  const std::string path = work_path("prefix.gguf");
  for (size_t n = 0; n < bytes.size(); ++n) {
    INFO("prefix of " << n << " of " << bytes.size() << " bytes");
    write_bytes(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(n)));
    CHECK(outcome(path) != "");
  }
  write_bytes(path, bytes);
  CHECK(outcome(path) == "");
}

TEST_CASE("seeded random byte flips of a valid GGUF file load or throw ophtha::Error, nothing else") {
  const std::vector<uint8_t> bytes = valid_file().serialize();
  const std::string path = work_path("flips.gguf");
  std::mt19937 rng(20240601);
  int loaded = 0, refused = 0;
  for (int round = 0; round < 4000; ++round) {
    std::vector<uint8_t> mutated = bytes;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) {
      const size_t at = rng() % mutated.size();
      // half the time a random byte, half the time an extreme one (lengths and counts hit hardest)
      mutated[at] = (rng() & 1) ? static_cast<uint8_t>(rng()) : ((rng() & 1) ? 0xff : 0x00);
    }
    write_bytes(path, mutated);
    INFO("round " << round);
    (outcome(path).empty() ? loaded : refused)++;
  }
  MESSAGE("random flips: " << loaded << " loaded, " << refused << " refused with ophtha::Error");
  CHECK(refused > 0);
}
