// Hostile safetensors files: a table of broken headers (each → the documented error), every prefix
// of a valid file, and seeded random byte flips — each loads or throws ophtha::Error, nothing else.
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

namespace {

std::string work_path(const std::string& name) {
  const std::string dir = std::string(OPHTHA_TEST_WORK_DIR) + "/test_safetensors_hostile";
  std::filesystem::create_directories(dir);
  return dir + "/" + name;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f);
  if (!bytes.empty()) REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  std::fclose(f);
}

// 8-byte length (the true one unless overridden) | header | `data_bytes` bytes of data.
std::vector<uint8_t> make_file(const std::string& header, size_t data_bytes,
                               std::optional<uint64_t> header_len = std::nullopt) {
  const uint64_t n = header_len.value_or(header.size());
  std::vector<uint8_t> out(8 + header.size() + data_bytes);
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  for (size_t i = 0; i < data_bytes; ++i) out[8 + header.size() + i] = static_cast<uint8_t>(i * 13 + 5);
  return out;
}

// Two tensors, 8 + 12 bytes of data, and metadata.
const std::string kValidHeader =
    R"({"__metadata__":{"format":"pt"},)"
    R"("a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},)"
    R"("b":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}})";
constexpr size_t kValidDataBytes = 20;

// "" when `path` loads (every tensor byte read); the ophtha::Error message otherwise.
std::string outcome(const std::string& path) {
  return test::error_message_or_empty([&] {
    const SafetensorsFile f = SafetensorsFile::open(path);
    uint64_t sum = 0;
    for (const SafetensorsTensor& t : f.tensors())
      for (uint64_t i = 0; i < t.nbytes; ++i) sum += t.data[i];  // touches every byte: no SIGBUS/ASan
    (void)sum;
  });
}

}  // namespace

TEST_CASE("the hand-built base file is valid and reads as built") {
  const std::string path = work_path("base.safetensors");
  write_bytes(path, make_file(kValidHeader, kValidDataBytes));
  const SafetensorsFile f = SafetensorsFile::open(path);
  REQUIRE(f.tensors().size() == 2);
  CHECK(f.find("a")->shape == std::vector<int64_t>{2, 2});
  CHECK(f.find("b")->nbytes == 12);
  CHECK(f.find("b")->data[0] == static_cast<uint8_t>(8 * 13 + 5));
  CHECK(f.metadata().at("format") == "pt");
}

TEST_CASE("each hostile safetensors file throws the documented error") {
  struct Case {
    const char* what;
    std::vector<uint8_t> bytes;
    std::string message;
  };
  const auto entry = [](const std::string& name, const std::string& body) {
    return "\"" + name + "\":{" + body + "}";
  };
  const std::vector<Case> cases = {
      {"shorter than the length field", {1, 2, 3}, "too short for the 8-byte header length"},
      {"header length over 100 MB", make_file(kValidHeader, kValidDataBytes, 100'000'001),
       "header length 100000001 exceeds the limit of 100000000"},
      {"header length past the end", make_file(kValidHeader, kValidDataBytes, 1000),
       "header length 1000 runs past the end of the file"},
      {"header length of all ones", make_file(kValidHeader, kValidDataBytes, ~uint64_t{0}),
       "exceeds the limit"},
      {"empty header", make_file("", 0), "header is not valid JSON"},
      {"invalid JSON", make_file("{\"a\":", 0), "header is not valid JSON"},
      {"invalid UTF-8", make_file("{\"\xff\":{}}", 0), "header is not valid JSON"},
      {"header not an object", make_file("[1,2]", 0), "header is a JSON array, expected an object"},
      {"nested too deep", make_file("{\"__metadata__\":" + std::string(20, '[') + std::string(20, ']') + "}", 0),
       "nests deeper than 8 levels"},
      {"duplicate tensor name",
       make_file("{" + entry("a", R"("dtype":"F32","shape":[1],"data_offsets":[0,4])") + "," +
                     entry("a", R"("dtype":"F32","shape":[1],"data_offsets":[4,8])") + "}", 8),
       "repeats the key 'a'"},
      {"entry not an object", make_file(R"({"a":[1]})", 0), "tensor 'a' is a JSON array, expected an object"},
      {"missing dtype", make_file("{" + entry("a", R"("shape":[1],"data_offsets":[0,4])") + "}", 4),
       "tensor 'a' has no \"dtype\""},
      {"missing shape", make_file("{" + entry("a", R"("dtype":"F32","data_offsets":[0,4])") + "}", 4),
       "tensor 'a' has no \"shape\""},
      {"missing data_offsets", make_file("{" + entry("a", R"("dtype":"F32","shape":[1])") + "}", 4),
       "tensor 'a' has no \"data_offsets\""},
      {"unknown dtype", make_file("{" + entry("a", R"("dtype":"F4","shape":[1],"data_offsets":[0,1])") + "}", 1),
       "tensor 'a' has unknown dtype 'F4'"},
      {"dtype not a string", make_file("{" + entry("a", R"("dtype":4,"shape":[1],"data_offsets":[0,4])") + "}", 4),
       "dtype is a JSON number"},
      {"negative dimension", make_file("{" + entry("a", R"("dtype":"F32","shape":[-1],"data_offsets":[0,4])") + "}", 4),
       "shape entry -1 is not a non-negative integer"},
      {"fractional dimension", make_file("{" + entry("a", R"("dtype":"F32","shape":[1.5],"data_offsets":[0,4])") + "}", 4),
       "shape entry 1.5"},
      {"element count overflows",
       make_file("{" + entry("a", R"("dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4])") + "}", 4),
       "element count of shape [4294967296,4294967296] overflows"},
      {"byte count overflows",
       make_file("{" + entry("a", R"("dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4])") + "}", 4),
       "byte size of shape"},
      {"nbytes does not match the shape",
       make_file("{" + entry("a", R"("dtype":"F32","shape":[2],"data_offsets":[0,4])") + "}", 4),
       "tensor 'a': data_offsets [0, 4] hold 4 bytes, shape [2] of F32 needs 8"},
      {"three data offsets", make_file("{" + entry("a", R"("dtype":"U8","shape":[1],"data_offsets":[0,1,2])") + "}", 1),
       "data_offsets [0,1,2] is not two non-negative integers"},
      {"negative data offset", make_file("{" + entry("a", R"("dtype":"U8","shape":[1],"data_offsets":[-1,0])") + "}", 1),
       "is not two non-negative integers"},
      {"end before begin", make_file("{" + entry("a", R"("dtype":"U8","shape":[0],"data_offsets":[4,0])") + "}", 4),
       "data_offsets [4, 0] end before they begin"},
      {"overlapping tensors",
       make_file("{" + entry("a", R"("dtype":"F32","shape":[2],"data_offsets":[0,8])") + "," +
                     entry("b", R"("dtype":"F32","shape":[1],"data_offsets":[4,8])") + "}", 8),
       "tensor 'b' at data_offsets [4, 8] overlaps tensor 'a', which ends at 8"},
      {"hole between tensors",
       make_file("{" + entry("a", R"("dtype":"F32","shape":[1],"data_offsets":[0,4])") + "," +
                     entry("b", R"("dtype":"F32","shape":[1],"data_offsets":[8,12])") + "}", 12),
       "tensor 'b' at data_offsets [8, 12] leaves a hole of 4 bytes after tensor 'a'"},
      {"first tensor not at 0", make_file("{" + entry("a", R"("dtype":"F32","shape":[1],"data_offsets":[4,8])") + "}", 8),
       "leaves a hole of 4 bytes after the start of the data"},
      {"data past the end of the file", make_file(kValidHeader, kValidDataBytes - 1),
       "tensor 'b' ends at byte 20 of the data, past its end (19 bytes)"},
      {"bytes after the last tensor", make_file(kValidHeader, kValidDataBytes + 3),
       "tensor data ends at byte 20 but the file holds 23 bytes of data"},
      {"huge offsets", make_file("{" + entry("a", R"("dtype":"U8","shape":[0],"data_offsets":[18446744073709551615,18446744073709551615])") + "}", 0),
       "leaves a hole"},
      {"metadata not an object", make_file(R"({"__metadata__":[]})", 0), "__metadata__ is a JSON array"},
      {"metadata value not a string", make_file(R"({"__metadata__":{"k":1}})", 0),
       "__metadata__ 'k' is a JSON number, expected a string"},
  };
  const std::string path = work_path("hostile.safetensors");
  for (const Case& c : cases) {
    INFO("case: " << std::string(c.what));
    write_bytes(path, c.bytes);
    try {
      SafetensorsFile::open(path);
      FAIL("expected an error, the file loaded");
    } catch (const Error& e) {
      const std::string message = e.what();
      INFO("message: " << message);
      CHECK(e.code() == ErrorCode::InvalidFormat);
      CHECK(message.find(c.message) != std::string::npos);
      CHECK(message.find(path) != std::string::npos);
    }
  }
}

std::string repeated(const std::string& text, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += text;
  return out;
}

// A header of `n` zero-byte tensors t0, t1, ... (all at offset 0), each of shape `shape`, plus
// `metadata_entries` entries of __metadata__.
std::string many_entries_header(size_t n, const std::string& shape, size_t metadata_entries = 0) {
  std::string header = "{";
  if (metadata_entries > 0) {
    header += "\"__metadata__\":{";
    for (size_t i = 0; i < metadata_entries; ++i) header += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"v\"";
    header += "}";
  }
  for (size_t i = 0; i < n; ++i)
    header += ((i || metadata_entries) ? ",\"t" : "\"t") + std::to_string(i) +
              "\":{\"dtype\":\"U8\",\"shape\":" + shape + ",\"data_offsets\":[0,0]}";
  return header + "}";
}

TEST_CASE("a valid header at the reader's limits loads: 262,144 tensors, rank 16, 65,536 metadata entries") {
  const std::string path = work_path("at_limits.safetensors");
  write_bytes(path, make_file(many_entries_header(262'144, "[0]", 65'536), 0));
  const SafetensorsFile f = SafetensorsFile::open(path);
  CHECK(f.tensors().size() == 262'144);
  CHECK(f.metadata().size() == 65'536);
  CHECK(f.find("t262143") != nullptr);
  write_bytes(path, make_file(many_entries_header(1, "[0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]"), 0));
  CHECK(SafetensorsFile::open(path).find("t0")->shape.size() == 16);
}

TEST_CASE("a valid header past the reader's limits is refused while parsing, naming what was too large") {
  struct Case {
    const char* what;
    std::string header;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"262,145 tensors", many_entries_header(262'145, "[0]"), "header lists more than 262144 tensors, the limit"},
      {"rank 17", many_entries_header(1, "[0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]"),
       "tensor 't0': shape has 17 dimensions, more than the limit of 16"},
      {"rank 100,000", many_entries_header(1, "[0" + repeated(",1", 100'000) + "]"),
       "header: 't0' holds more than 64 JSON values"},
      {"65,537 metadata entries", many_entries_header(0, "[0]", 65'537),
       "header: '__metadata__' holds more than 65537 JSON values"},
  };
  const std::string path = work_path("past_limits.safetensors");
  for (const Case& c : cases) {
    INFO("case: " << std::string(c.what));
    write_bytes(path, make_file(c.header, 0));
    try {
      SafetensorsFile::open(path);
      FAIL("expected an error, the file loaded");
    } catch (const Error& e) {
      const std::string message = e.what();
      INFO("message: " << message);
      CHECK(e.code() == ErrorCode::InvalidFormat);
      CHECK(message.find(c.message) != std::string::npos);
      CHECK(message.find(path) != std::string::npos);
    }
  }
}

TEST_CASE("a header of zero tensors and no data is a valid file") {
  const std::string path = work_path("empty.safetensors");
  write_bytes(path, make_file("{}", 0));
  CHECK(SafetensorsFile::open(path).tensors().empty());
}

TEST_CASE("every strict prefix of a valid safetensors file throws a clean ophtha::Error") {
  const std::vector<uint8_t> bytes = make_file(kValidHeader, kValidDataBytes);
  const std::string path = work_path("prefix.safetensors");
  for (size_t n = 0; n < bytes.size(); ++n) {
    INFO("prefix of " << n << " of " << bytes.size() << " bytes");
    write_bytes(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(n)));
    CHECK(outcome(path) != "");
  }
  write_bytes(path, bytes);
  CHECK(outcome(path) == "");
}

TEST_CASE("seeded random byte flips of a valid safetensors file load or throw ophtha::Error, nothing else") {
  const std::vector<uint8_t> bytes = make_file(kValidHeader, kValidDataBytes);
  const std::string path = work_path("flips.safetensors");
  std::mt19937 rng(20240602);
  int loaded = 0, refused = 0;
  for (int round = 0; round < 4000; ++round) {
    std::vector<uint8_t> mutated = bytes;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) {
      const size_t at = rng() % mutated.size();
      // random bytes, and JSON-shaped ones that keep the header parseable more often
      static const char json_bytes[] = "0123456789[]{},:\"-. e";
      mutated[at] = (rng() & 1) ? static_cast<uint8_t>(rng())
                                : static_cast<uint8_t>(json_bytes[rng() % (sizeof json_bytes - 1)]);
    }
    write_bytes(path, mutated);
    INFO("round " << round);
    (outcome(path).empty() ? loaded : refused)++;
  }
  MESSAGE("random flips: " << loaded << " loaded, " << refused << " refused with ophtha::Error");
  CHECK(refused > 0);
}
