// Tokenizer::from_sentencepiece_model: what it reads from LLaMA 2's tokenizer.model, that broken,
// truncated or unsupported files give an ophtha::Error naming the file, never a crash, and that the
// loaded tokenizer gives long texts back unchanged. Variants are made by appending protobuf fields
// to the real file (protobuf merges them).
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "ophtha/error.hpp"
#include "ophtha/tokenizer.hpp"

using namespace ophtha;

namespace {

const std::string& llama2_model_bytes() {
  static const std::string bytes = [] {
    std::ifstream in(OPHTHA_LLAMA2_TOKENIZER, std::ios::binary);
    REQUIRE_MESSAGE(in, "cannot open " << OPHTHA_LLAMA2_TOKENIZER);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }();
  return bytes;
}

std::string write_work_file(const std::string& name, const std::string& bytes) {
  std::filesystem::create_directories(OPHTHA_TEST_WORK_DIR);
  const std::string path = std::string(OPHTHA_TEST_WORK_DIR) + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// Loads LLaMA 2's model with `suffix` appended; returns the Error it throws.
Error load_error(const std::string& suffix) {
  const std::string path = write_work_file("tokenizer_suffixed.model", llama2_model_bytes() + suffix);
  try {
    Tokenizer::from_sentencepiece_model(path);
  } catch (const Error& e) {
    CHECK_MESSAGE(std::string(e.what()).find(path) != std::string::npos, "message does not name the file: " << std::string(e.what()));
    return e;
  }
  FAIL("expected an Error for the model with suffix of " << suffix.size() << " bytes");
  return Error(ErrorCode::Internal, "");
}

// `bytes` of random valid UTF-8 without U+2581 "▁" (which decode() shows as a space): ASCII words and
// whitespace, common CJK, and code points from anywhere in Unicode (most have no piece: byte fallback).
std::string random_utf8_text(size_t bytes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string text;
  const auto append_code_point = [&text](uint32_t cp) {
    if (cp < 0x80) {
      text += static_cast<char>(cp);
    } else if (cp < 0x800) {
      text += static_cast<char>(0xC0 | (cp >> 6));
      text += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      text += static_cast<char>(0xE0 | (cp >> 12));
      text += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      text += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      text += static_cast<char>(0xF0 | (cp >> 18));
      text += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      text += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      text += static_cast<char>(0x80 | (cp & 0x3F));
    }
  };
  static const char* const words[] = {"the ", "retina ", "macular edema ", "OCT", "  ", "\n", "\t", "0.6", "mmHg "};
  while (text.size() < bytes) {
    switch (rng() % 4) {
      case 0: text += words[rng() % (sizeof words / sizeof words[0])]; break;
      case 1: append_code_point(0x4E00 + rng() % (0x9FFF - 0x4E00 + 1)); break;  // CJK Unified Ideographs
      default: {
        const uint32_t cp = 1 + rng() % 0x10FFFF;
        if ((cp < 0xD800 || cp > 0xDFFF) && cp != 0x2581) append_code_point(cp);
      }
    }
  }
  return text;
}

bool contains(const char* text, const char* part) { return std::string(text).find(part) != std::string::npos; }

// Loads `bytes` written as `name`: either a usable tokenizer or an Error naming the file.
void check_loads_or_names_file(const std::string& name, const std::string& bytes, const std::string& what) {
  const std::string path = write_work_file(name, bytes);
  try {
    const Tokenizer tokenizer = Tokenizer::from_sentencepiece_model(path);
    const std::vector<int32_t> ids = tokenizer.encode("视网膜 OCT 杯盘比 0.6 👨‍👩‍👧", true);
    CHECK_MESSAGE(!ids.empty(), what);
    for (int32_t id : ids) CHECK_MESSAGE((id >= 0 && id < tokenizer.n_vocab()), what << ": id " << id << " out of range");
    tokenizer.decode(ids);
  } catch (const Error& e) {
    CHECK_MESSAGE(contains(e.what(), path.c_str()), what << ": message does not name the file: " << std::string(e.what()));
  }
}

}  // namespace

TEST_CASE("LLaMA 2's tokenizer.model loads 32000 pieces with <unk> 0, <s> 1, </s> 2 and 256 byte pieces") {
  const Tokenizer tokenizer = Tokenizer::from_sentencepiece_model(OPHTHA_LLAMA2_TOKENIZER);
  const TokenizerVocab& vocab = tokenizer.vocab();
  CHECK(tokenizer.n_vocab() == 32000);
  CHECK(vocab.unk_id == 0);
  CHECK(tokenizer.bos_id() == 1);
  CHECK(tokenizer.eos_id() == 2);
  CHECK(vocab.add_space_prefix);
  CHECK(tokenizer.piece(1) == "<s>");
  CHECK(tokenizer.is_control(1));
  CHECK(tokenizer.is_control(2));
  CHECK_FALSE(tokenizer.is_control(0));
  CHECK(vocab.kinds[0] == TokenKind::Unknown);
  CHECK(tokenizer.piece(3) == "<0x00>");
  CHECK(tokenizer.piece(258) == "<0xFF>");
  CHECK(tokenizer.piece(29871) == "\xE2\x96\x81");
  CHECK(vocab.scores[259] == doctest::Approx(-1e9));
  CHECK(vocab.scores[260] == -1.0f);  // "▁t"
  int byte_pieces = 0;
  for (TokenKind kind : vocab.kinds) byte_pieces += kind == TokenKind::Byte;
  CHECK(byte_pieces == 256);
}

TEST_CASE("a missing file or a folder gives Error(Io) naming the path") {
  for (const std::string& path : {std::string(OPHTHA_TEST_WORK_DIR) + "/no-such-dir/tokenizer.model",
                                 std::string(OPHTHA_SOURCE_DIR) + "/tests"}) {
    try {
      Tokenizer::from_sentencepiece_model(path);
      FAIL("expected Error(Io)");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::Io);
      CHECK_MESSAGE(contains(e.what(), path.c_str()), e.what());
    }
  }
}

TEST_CASE("every truncation of the first 4 KB and of the last 512 bytes gives Error(InvalidFormat) naming the file") {
  const std::string& bytes = llama2_model_bytes();
  const std::string path = std::string(OPHTHA_TEST_WORK_DIR) + "/tokenizer_truncated.model";
  size_t wrong = 0;
  const auto check_truncation = [&](size_t length) {
    write_work_file("tokenizer_truncated.model", bytes.substr(0, length));
    try {
      Tokenizer::from_sentencepiece_model(path);
      ++wrong;
      FAIL_CHECK("truncation to " << length << " bytes loaded without error");
    } catch (const Error& e) {
      const bool ok = e.code() == ErrorCode::InvalidFormat && contains(e.what(), path.c_str());
      wrong += !ok;
      CHECK_MESSAGE(ok, "truncation to " << length << " bytes: expected InvalidFormat naming the file, got " << std::string(e.what()));
    }
  };
  for (size_t length = 0; length <= 4096; ++length) check_truncation(length);
  for (size_t length = bytes.size() - 512; length < bytes.size(); ++length) check_truncation(length);
  CHECK(wrong == 0);
}

TEST_CASE("random byte flips never crash: the file loads and encodes, or gives an Error naming the file") {
  const std::string& original = llama2_model_bytes();
  std::mt19937 rng(20240611);
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes = original;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) {
      size_t position = 0;
      switch (trial % 3) {  // the head (first pieces), the tail (trainer/normalizer spec), anywhere
        case 0: position = rng() % 4096; break;
        case 1: position = bytes.size() - 1 - rng() % 600; break;
        default: position = rng() % bytes.size();
      }
      bytes[position] = static_cast<char>(bytes[position] ^ (1 + rng() % 255));
    }
    check_loads_or_names_file("tokenizer_flipped.model", bytes, "trial " + std::to_string(trial));
  }
}

TEST_CASE("normalizer_spec.add_dummy_prefix = false is read into add_space_prefix") {
  const std::string path = write_work_file("tokenizer_no_prefix.model", llama2_model_bytes() + std::string("\x1a\x02\x18\x00", 4));
  const Tokenizer tokenizer = Tokenizer::from_sentencepiece_model(path);
  CHECK_FALSE(tokenizer.vocab().add_space_prefix);
}

TEST_CASE("unsupported models are refused with Error(Unsupported) saying what is unsupported") {
  struct Case {
    std::string suffix;
    const char* expected;
  };
  const Case cases[] = {
      {std::string("\x12\x02\x18\x01", 4), "model_type is 1"},                // trainer_spec.model_type = UNIGRAM
      {std::string("\x1a\x04\x12\x02xy", 6), "precompiled charsmap"},         // normalizer_spec.precompiled_charsmap
      {std::string("\x1a\x02\x20\x01", 4), "remove_extra_whitespaces"},       // normalizer_spec.remove_extra_whitespaces
      {std::string("\x1a\x02\x28\x00", 4), "escape_whitespaces"},             // normalizer_spec.escape_whitespaces = false
      {std::string("\x12\x03\xc0\x01\x01", 5), "treat_whitespace_as_suffix"},  // trainer_spec field 24
  };
  for (const Case& c : cases) {
    const Error e = load_error(c.suffix);
    CHECK_MESSAGE(e.code() == ErrorCode::Unsupported, e.what());
    CHECK_MESSAGE(contains(e.what(), c.expected), "expected the message to mention '" << std::string(c.expected) << "': " << std::string(e.what()));
  }
}

TEST_CASE("malformed models give Error(InvalidFormat) saying what is wrong") {
  struct Case {
    std::string suffix;
    const char* expected;
  };
  const std::string bos_minus_one = std::string("\x12\x0c\xc8\x02", 4) + std::string(9, '\xff') + "\x01";
  const Case cases[] = {
      {std::string("\x0a\x06\x0a\x02zz\x18\x07", 8), "type is 7"},              // a piece of type 7
      {std::string("\x0a\x06\x0a\x04\xe2\x96\x81t", 8), "defined twice"},       // "▁t" again
      {std::string("\x0a\x02\x18\x01", 4), "is empty"},                         // a piece without text
      {std::string("\x0a\x06\x0a\x02<>\x18\x02", 8), "both of type UNKNOWN"},   // a second UNKNOWN piece
      {std::string("\x10\x01", 2), "wire type 0"},                             // pieces as a varint
      {std::string("\x0b", 1), "wire type 3"},                                 // a protobuf group
      {std::string("\x0a\x05\x0a\x10", 4), "runs past the end"},                // piece length past the end
      {std::string("\x0a\x02\x15\x00", 4), "fixed32 runs past"},               // score cut short
      {std::string("\x1a\x01\x18", 3), "varint runs past"},                    // varint cut short
      {std::string("\x0a\x0b", 2) + std::string(11, '\xff'), "varint longer"},  // 11-byte varint key
      {bos_minus_one, "bos_id is -1"},                                        // trainer_spec.bos_id = -1
  };
  for (const Case& c : cases) {
    const Error e = load_error(c.suffix);
    CHECK_MESSAGE(e.code() == ErrorCode::InvalidFormat, e.what());
    CHECK_MESSAGE(contains(e.what(), c.expected), "expected the message to mention '" << std::string(c.expected) << "': " << std::string(e.what()));
  }
}

TEST_CASE("1 MB of random valid UTF-8 without \"▁\" comes back unchanged from decode(encode(text))") {
  const Tokenizer tokenizer = Tokenizer::from_sentencepiece_model(OPHTHA_LLAMA2_TOKENIZER);
  for (uint32_t seed : {1u, 2u}) {
    const std::string text = random_utf8_text(1 << 20, seed);
    const std::string decoded = tokenizer.decode(tokenizer.encode(text, true));
    size_t first_difference = 0;
    while (first_difference < std::min(text.size(), decoded.size()) && text[first_difference] == decoded[first_difference])
      ++first_difference;
    CHECK_MESSAGE(decoded == text, "seed " << seed << ": " << text.size() << " bytes in, " << decoded.size()
                                           << " bytes out, first difference at byte " << first_difference);
  }
}
