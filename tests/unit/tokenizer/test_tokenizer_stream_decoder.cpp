// TokenStreamDecoder: whole UTF-8 characters only, held bytes, and the same text as decode().
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/tokenizer.hpp"

using namespace ophtha;

namespace {

const Tokenizer& llama2() {
  static const Tokenizer tokenizer = Tokenizer::from_sentencepiece_model(OPHTHA_LLAMA2_TOKENIZER);
  return tokenizer;
}

int32_t byte_token(unsigned char byte) { return 3 + byte; }  // LLaMA 2: <0x00> is id 3

std::vector<std::string> push_all(TokenStreamDecoder& stream, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(stream.push(id));
  return out;
}

bool is_valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

const std::string kReplacement = "\xEF\xBF\xBD";

}  // namespace

TEST_CASE("the bytes of a character split over byte tokens are held until the character is complete") {
  TokenStreamDecoder stream(llama2());
  // 视 = E8 A7 86, 👁 = F0 9F 91 81
  const std::vector<std::string> out =
      push_all(stream, {byte_token(0xE8), byte_token(0xA7), byte_token(0x86), byte_token(0xF0), byte_token(0x9F),
                        byte_token(0x91), byte_token(0x81)});
  CHECK(out == std::vector<std::string>{"", "", "视", "", "", "", "👁"});
  CHECK(stream.flush() == "");
}

TEST_CASE("an incomplete character is flushed as one U+FFFD per byte, as decode() shows it") {
  const std::vector<int32_t> ids{byte_token(0xE8), byte_token(0xA7)};
  TokenStreamDecoder stream(llama2());
  CHECK(push_all(stream, ids) == std::vector<std::string>{"", ""});
  const std::string flushed = stream.flush();
  CHECK(flushed == kReplacement + kReplacement);
  CHECK(flushed == llama2().decode(ids));
  CHECK_MESSAGE(stream.flush() == "", "flush forgets what it returned");
}

TEST_CASE("a byte that can never start a character is released at once as U+FFFD") {
  TokenStreamDecoder stream(llama2());
  CHECK(stream.push(byte_token(0xFF)) == kReplacement);
  CHECK(stream.push(byte_token(0x86)) == kReplacement);
  CHECK_MESSAGE(stream.push(byte_token(0xE8)) == "", "E8 may still start a character");
  CHECK_MESSAGE(stream.push(byte_token(0x41)) == kReplacement + "A", "E8 41 can no longer become one");
}

TEST_CASE("a non-byte token ends a run of byte tokens, as in decode()") {
  const int32_t eos = llama2().eos_id();
  const int32_t hello = llama2().encode("hello", false).at(0);
  const std::vector<int32_t> ids{byte_token(0xE8), eos, byte_token(0xA7), byte_token(0x86), hello};
  TokenStreamDecoder stream(llama2());
  const std::vector<std::string> out = push_all(stream, ids);
  // A7 and 86 cannot start a character, so once </s> has cut them off from E8 each is U+FFFD at once.
  CHECK(out == std::vector<std::string>{"", kReplacement, kReplacement, kReplacement, " hello"});
  CHECK(out[0] + out[1] + out[2] + out[3] + out[4] == llama2().decode(ids));
}

TEST_CASE("the dummy-prefix space is dropped from the first non-control token only") {
  const Tokenizer& t = llama2();
  const int32_t space = 29871;  // "▁"
  const int32_t a = t.encode("a", false).at(0);
  REQUIRE(t.piece(a) == "\xE2\x96\x81" "a");
  TokenStreamDecoder stream(t);
  CHECK(push_all(stream, {t.bos_id(), space, a, a}) == std::vector<std::string>{"", "", " a", " a"});
  CHECK(t.decode({t.bos_id(), space, a, a}) == " a a");
  TokenStreamDecoder after_byte(t);
  CHECK(push_all(after_byte, {byte_token('x'), a}) == std::vector<std::string>{"x", " a"});
  TokenStreamDecoder after_unknown(t);
  CHECK(push_all(after_unknown, {0, a}) == std::vector<std::string>{" \xE2\x81\x87 ", " a"});
}

TEST_CASE("pushing an id out of range throws InvalidArgument and leaves the decoder as it was") {
  TokenStreamDecoder stream(llama2());
  CHECK(stream.push(byte_token(0xE8)) == "");
  CHECK_THROWS_AS(stream.push(32000), Error);
  CHECK_THROWS_AS(stream.push(-1), Error);
  try {
    stream.push(40000);
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::InvalidArgument);
    CHECK_MESSAGE(std::string(e.what()).find("40000") != std::string::npos, e.what());
  }
  CHECK(stream.push(byte_token(0xA7)) == "");
  CHECK(stream.push(byte_token(0x86)) == "视");
}

TEST_CASE("the decoder keeps its own copy of the tokenizer, which may die first") {
  TokenStreamDecoder stream = [] {
    const Tokenizer local = Tokenizer::from_sentencepiece_model(OPHTHA_LLAMA2_TOKENIZER);
    return TokenStreamDecoder(local);
  }();
  CHECK(stream.push(byte_token(0x41)) == "A");
}

TEST_CASE("random id streams heavy in byte tokens: every push is whole UTF-8 and the pieces add up to decode()") {
  const Tokenizer& t = llama2();
  std::mt19937 rng(7);
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<int32_t> ids(1 + rng() % 24);
    for (int32_t& id : ids) {
      const unsigned roll = rng() % 10;
      if (roll < 6) {  // lead and trail bytes of real characters, plus bytes that are never valid
        static const unsigned char bytes[] = {0xE8, 0xA7, 0x86, 0xF0, 0x9F, 0x91, 0x81, 0xC3, 0xA9, 0xED,
                                              0xA0, 0xF4, 0x90, 0xC0, 0xFF, 0x41, 0x0A, 0xE0, 0x80, 0xBF};
        id = byte_token(bytes[rng() % sizeof bytes]);
      } else if (roll < 7) {
        id = static_cast<int32_t>(rng() % 3);  // <unk>, <s>, </s>
      } else {
        id = static_cast<int32_t>(rng() % t.n_vocab());
      }
    }
    TokenStreamDecoder stream(t);
    std::string text;
    for (int32_t id : ids) {
      const std::string piece = stream.push(id);
      CHECK_MESSAGE(is_valid_utf8(piece), "trial " << trial << ": push of " << id << " gave partial UTF-8");
      text += piece;
    }
    const std::string tail = stream.flush();
    CHECK(is_valid_utf8(tail));
    CHECK_MESSAGE(text + tail == t.decode(ids), "trial " << trial << ": streamed text differs from decode()");
  }
}

TEST_CASE("a stream that continues text keeps the first piece's space, as llama.cpp prints a continuation") {
  const std::vector<int32_t> ids = llama2().encode("fundus photograph", false);  // "▁fund", ...
  TokenStreamDecoder continuation(llama2(), /*continues_text=*/true);
  std::string text;
  for (int32_t id : ids) text += continuation.push(id);
  text += continuation.flush();
  CHECK(text == " " + llama2().decode(ids));
  CHECK(text == " fundus photograph");
}
