// Conformance with SentencePiece: every case of tests/golden/tokenizer_cases.jsonl (ids from
// sentencepiece's EncodeAsIds, written by tests/tools/tokenizer_cases.py) must encode to the same
// ids and decode to what DecodeIds gave. OPHTHA_TOKENIZER_CASES=FILE reads FILE instead (a case file
// written with another --seed; tests/conformance/test_tokenizer_vs_sentencepiece.sh does that).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "ophtha/tokenizer.hpp"

using namespace ophtha;

namespace {

struct GoldenCase {
  int line = 0;
  bool decode_only = false;     // random ids with no text: checks decode() alone
  std::string text;
  std::vector<int32_t> ids;     // EncodeAsIds(text), no BOS
  std::string decoded;          // DecodeIds(ids)
  std::string model_suffix;     // bytes appended to the .model for a variant model ("" for LLaMA 2 itself)
};

std::string from_hex(const std::string& hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return bytes;
}

// The text in quotes, control characters and '"' shown as \xNN.
std::string printable(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) out += (c < 0x20 || c == 0x7F || c == '"') ? fmt::format("\\x{:02X}", c) : std::string(1, static_cast<char>(c));
  return out + "\"";
}

const std::vector<GoldenCase>& golden_cases() {
  static const std::vector<GoldenCase> cases = [] {
    const char* override_path = std::getenv("OPHTHA_TOKENIZER_CASES");
    const std::string path = override_path && *override_path
                                 ? std::string(override_path)
                                 : std::string(OPHTHA_SOURCE_DIR) + "/tests/golden/tokenizer_cases.jsonl";
    if (override_path && *override_path) MESSAGE("tokenizer cases from OPHTHA_TOKENIZER_CASES=" << path);
    std::ifstream in(path);
    REQUIRE_MESSAGE(in, "cannot open " << path << " (regenerate it with tests/tools/tokenizer_cases.py)");
    std::vector<GoldenCase> out;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      const nlohmann::json record = nlohmann::json::parse(line);
      GoldenCase c;
      c.line = number;
      c.decode_only = !record.contains("text") && !record.contains("text_hex");
      if (!c.decode_only)
        c.text = record.contains("text_hex") ? from_hex(record["text_hex"]) : record["text"].get<std::string>();
      c.ids = record["ids"].get<std::vector<int32_t>>();
      c.decoded = record.value("decoded", c.text);
      c.model_suffix = from_hex(record.value("model_suffix_hex", ""));
      out.push_back(std::move(c));
    }
    return out;
  }();
  return cases;
}

const Tokenizer& llama2_tokenizer() {
  static const Tokenizer tokenizer = Tokenizer::from_sentencepiece_model(OPHTHA_LLAMA2_TOKENIZER);
  return tokenizer;
}

// The tokenizer for `model_suffix`: LLaMA 2's .model with those bytes appended, loaded once.
const Tokenizer& tokenizer_for(const std::string& model_suffix) {
  static std::map<std::string, Tokenizer> variants;
  if (model_suffix.empty()) return llama2_tokenizer();
  if (auto it = variants.find(model_suffix); it != variants.end()) return it->second;
  std::ifstream in(OPHTHA_LLAMA2_TOKENIZER, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::create_directories(OPHTHA_TEST_WORK_DIR);
  const std::string path = fmt::format("{}/tokenizer_variant_{}.model", OPHTHA_TEST_WORK_DIR, variants.size());
  std::ofstream(path, std::ios::binary) << bytes << model_suffix;
  return variants.emplace(model_suffix, Tokenizer::from_sentencepiece_model(path)).first->second;
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

}  // namespace

TEST_CASE("the golden file holds at least 2,000 strings, about half of them Chinese or mixed") {
  size_t llama2_cases = 0, with_cjk = 0;
  for (const GoldenCase& c : golden_cases()) {
    if (!c.model_suffix.empty() || c.decode_only) continue;
    ++llama2_cases;
    with_cjk += c.text.find("\xE4") != std::string::npos || c.text.find("\xE5") != std::string::npos ||
                c.text.find("\xE6") != std::string::npos || c.text.find("\xE7") != std::string::npos ||
                c.text.find("\xE8") != std::string::npos || c.text.find("\xE9") != std::string::npos;
  }
  CHECK_MESSAGE(llama2_cases >= 2000, "expected >= 2000 LLaMA 2 cases, found " << llama2_cases);
  CHECK_MESSAGE(with_cjk * 5 >= llama2_cases * 2, with_cjk << " of " << llama2_cases << " cases contain CJK text");
}

TEST_CASE("encode gives SentencePiece's EncodeAsIds ids for every golden string, with and without BOS") {
  size_t mismatches = 0;
  for (const GoldenCase& c : golden_cases()) {
    if (c.decode_only) continue;
    const Tokenizer& tokenizer = tokenizer_for(c.model_suffix);
    const std::vector<int32_t> ids = tokenizer.encode(c.text, false);
    if (ids != c.ids) ++mismatches;
    const std::string model = c.model_suffix.empty() ? "" : " (variant model)";
    CHECK_MESSAGE(ids == c.ids, "golden line " << c.line << model
                                                << ": text " << printable(c.text) << "\n  expected "
                                                << fmt::format("{}", c.ids) << "\n  got      " << fmt::format("{}", ids));
    std::vector<int32_t> with_bos{tokenizer.bos_id()};
    with_bos.insert(with_bos.end(), c.ids.begin(), c.ids.end());
    CHECK_MESSAGE(tokenizer.encode(c.text, true) == with_bos,
                  "golden line " << c.line << model << ": add_bos should give BOS followed by the golden ids");
  }
  CHECK_MESSAGE(mismatches == 0, mismatches << " of " << golden_cases().size() << " golden strings encode differently");
}

TEST_CASE("decode gives SentencePiece's DecodeIds text for every golden id list") {
  for (const GoldenCase& c : golden_cases()) {
    const Tokenizer& tokenizer = tokenizer_for(c.model_suffix);
    const std::string text = tokenizer.decode(c.ids);
    CHECK_MESSAGE(text == c.decoded, "golden line " << c.line << ": ids " << fmt::format("{}", c.ids) << "\n  expected "
                                                    << printable(c.decoded) << "\n  got      " << printable(text));
    std::vector<int32_t> with_bos{tokenizer.bos_id()};
    with_bos.insert(with_bos.end(), c.ids.begin(), c.ids.end());
    CHECK_MESSAGE(tokenizer.decode(with_bos) == c.decoded, "golden line " << c.line << ": a leading BOS changed the text");
  }
}

TEST_CASE("streaming every golden id list returns whole UTF-8 pieces that add up to decode()") {
  for (const GoldenCase& c : golden_cases()) {
    const Tokenizer& tokenizer = tokenizer_for(c.model_suffix);
    TokenStreamDecoder stream(tokenizer);
    std::string text;
    for (size_t i = 0; i < c.ids.size(); ++i) {
      const std::string piece = stream.push(c.ids[i]);
      CHECK_MESSAGE(is_valid_utf8(piece), "golden line " << c.line << ": push of id " << c.ids[i] << " (#" << i
                                                         << ") returned partial UTF-8 " << printable(piece));
      text += piece;
    }
    text += stream.flush();
    CHECK_MESSAGE(text == c.decoded, "golden line " << c.line << ": streamed " << printable(text) << ", decode() gives "
                                                    << printable(c.decoded));
  }
}

TEST_CASE("a vocabulary built from pieces, scores and kinds, as GGUF carries them, encodes like the .model") {
  const TokenizerVocab& from_model = llama2_tokenizer().vocab();
  TokenizerVocab gguf_like;
  gguf_like.pieces = from_model.pieces;
  gguf_like.scores = from_model.scores;
  gguf_like.kinds = from_model.kinds;
  const Tokenizer tokenizer{gguf_like};  // defaults: bos 1, eos 2, unk 0, add_space_prefix, as LLaMA 2's GGUF says
  CHECK(tokenizer.n_vocab() == 32000);
  CHECK(tokenizer.bos_id() == llama2_tokenizer().bos_id());
  CHECK(tokenizer.eos_id() == llama2_tokenizer().eos_id());
  for (const GoldenCase& c : golden_cases()) {
    if (!c.model_suffix.empty()) continue;
    CHECK_MESSAGE((c.decode_only || tokenizer.encode(c.text, false) == c.ids), "golden line " << c.line << ": " << printable(c.text));
    CHECK_MESSAGE(tokenizer.decode(c.ids) == c.decoded, "golden line " << c.line << ": " << printable(c.text));
  }
}
