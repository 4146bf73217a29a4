// Tokenizer built from a TokenizerVocab: validation, accessors, BPE rules on a tiny vocabulary,
// and sharing one tokenizer between threads.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/tokenizer.hpp"

using namespace ophtha;

namespace {

// <unk> <s> </s> ▁ a b ab ba: "ab" and "ba" tie unless `ba_score` says otherwise.
TokenizerVocab tiny_vocab(float ba_score = -2.0f) {
  TokenizerVocab v;
  v.pieces = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "ab", "ba"};
  v.scores = {0, 0, 0, -5, -1, -1, -2, ba_score};
  v.kinds = {TokenKind::Unknown, TokenKind::Control, TokenKind::Control, TokenKind::Normal,
             TokenKind::Normal,  TokenKind::Normal,  TokenKind::Normal,  TokenKind::Normal};
  v.add_space_prefix = false;
  return v;
}

void check_invalid_vocab(const TokenizerVocab& vocab, const char* expected) {
  try {
    Tokenizer{vocab};
    FAIL("expected Error(InvalidFormat) mentioning '" << std::string(expected) << "'");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::InvalidFormat);
    CHECK_MESSAGE(std::string(e.what()).find(expected) != std::string::npos,
                  "expected the message to mention '" << std::string(expected) << "': " << std::string(e.what()));
  }
}

const Tokenizer& llama2() {
  static const Tokenizer tokenizer = Tokenizer::from_sentencepiece_model(OPHTHA_LLAMA2_TOKENIZER);
  return tokenizer;
}

}  // namespace

TEST_CASE("an inconsistent vocabulary is refused with Error(InvalidFormat) saying what is wrong") {
  TokenizerVocab v = tiny_vocab();
  v.scores.pop_back();
  check_invalid_vocab(v, "8 pieces but 7 scores");
  check_invalid_vocab(TokenizerVocab{}, "empty");
  v = tiny_vocab();
  v.bos_id = 8;
  check_invalid_vocab(v, "bos_id is 8");
  v = tiny_vocab();
  v.eos_id = -1;
  check_invalid_vocab(v, "eos_id is -1");
  v = tiny_vocab();
  v.unk_id = 100;
  check_invalid_vocab(v, "unk_id is 100");
  v = tiny_vocab();
  v.kinds[4] = static_cast<TokenKind>(9);
  check_invalid_vocab(v, "kind 9");
  v = tiny_vocab();
  v.kinds[4] = TokenKind::Byte;
  check_invalid_vocab(v, "not spelled <0xNN>");
}

TEST_CASE("ties between merges go to the leftmost pair; otherwise the higher-scoring piece merges first") {
  const Tokenizer tie{tiny_vocab()};
  CHECK(tie.encode("aba", false) == std::vector<int32_t>{6, 4});
  CHECK(tie.encode("bab", false) == std::vector<int32_t>{7, 5});
  const Tokenizer ba_first{tiny_vocab(-1.5f)};
  CHECK(ba_first.encode("aba", false) == std::vector<int32_t>{4, 7});
}

TEST_CASE("without byte pieces, each character with no piece becomes unk_id and decodes to \" ⁇ \"") {
  const Tokenizer tokenizer{tiny_vocab()};
  CHECK(tokenizer.encode("aXb", false) == std::vector<int32_t>{4, 0, 5});
  CHECK(tokenizer.encode("XY\xC3\xA9", false) == std::vector<int32_t>{0, 0, 0});
  CHECK(tokenizer.encode(" a", true) == std::vector<int32_t>{1, 3, 4});
  CHECK(tokenizer.decode({1, 0, 4, 2}) == " \xE2\x81\x87 a");
}

TEST_CASE("the empty string encodes to nothing, or to BOS alone") {
  CHECK(llama2().encode("", false).empty());
  CHECK(llama2().encode("", true) == std::vector<int32_t>{1});
  CHECK(llama2().decode({}).empty());
}

TEST_CASE("token_bytes gives what a token adds mid-stream") {
  const Tokenizer& t = llama2();
  CHECK(t.token_bytes(29871) == " ");
  CHECK(t.token_bytes(t.encode("the", false).at(0)) == " the");
  CHECK(t.token_bytes(3 + 0x0A) == "\n");
  CHECK(t.token_bytes(3 + 0xE8) == "\xE8");
  CHECK(t.token_bytes(t.bos_id()) == "");
  CHECK(t.token_bytes(t.eos_id()) == "");
  CHECK(t.token_bytes(0) == " \xE2\x81\x87 ");
}

TEST_CASE("ids out of range give Error(InvalidArgument) naming the id") {
  const Tokenizer& t = llama2();
  for (int32_t id : {-1, 32000}) {
    CHECK_THROWS_AS(t.piece(id), Error);
    CHECK_THROWS_AS(t.token_bytes(id), Error);
    CHECK_THROWS_AS(t.is_control(id), Error);
  }
  try {
    t.decode({1, 500, 32001});
    FAIL("expected Error(InvalidArgument)");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::InvalidArgument);
    CHECK_MESSAGE(std::string(e.what()).find("32001") != std::string::npos, e.what());
  }
}

TEST_CASE("copies share the tables and outlive the original") {
  std::vector<int32_t> expected = llama2().encode("视网膜 OCT", true);
  Tokenizer copy = [] { return Tokenizer::from_sentencepiece_model(OPHTHA_LLAMA2_TOKENIZER); }();
  const Tokenizer second = copy;
  copy = Tokenizer{tiny_vocab()};
  CHECK(second.encode("视网膜 OCT", true) == expected);
  CHECK(&second.vocab() != &copy.vocab());
}

TEST_CASE("one tokenizer used by four threads at once gives the same ids as one thread") {
  const Tokenizer& t = llama2();
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i)
    texts.push_back(std::to_string(i) + " 患者右眼视力 0." + std::to_string(i % 10) + "，杯盘比 0.6 retinopathy 😀 龘");
  std::vector<std::vector<int32_t>> expected;
  for (const std::string& text : texts) expected.push_back(t.encode(text, true));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&, w] {
      for (int round = 0; round < 5; ++round)
        for (size_t i = 0; i < texts.size(); ++i) {
          mismatches[w] += t.encode(texts[i], true) != expected[i];
          mismatches[w] += t.decode(expected[i]) != t.decode(expected[i]);
        }
    });
  for (std::thread& thread : threads) thread.join();
  for (int w = 0; w < 4; ++w) CHECK_MESSAGE(mismatches[w] == 0, "thread " << w << " saw different ids");
}
