// Encode throughput on ~1 MB of mixed Chinese/English report text; fails only when it collapses
// (< 1 MB/s would mean something quadratic). Prints the measured speed:
//   build-tok/tests/test_tokenizer_speed
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "ophtha/tokenizer.hpp"

using namespace ophtha;

namespace {

// Deterministic mixed text: Chinese findings, English words, numbers, emoji, rare CJK, whitespace.
std::string mixed_report_text(size_t bytes) {
  static const char* const words[] = {
      "视网膜", "黄斑水肿", "杯盘比 0.6", "眼压 21 mmHg", "糖尿病视网膜病变", "，", "。", "右眼", "左眼", "视力 0.8",
      "the", "patient", "retinopathy", "macular edema", "OCT", "follow-up in 3 months", "anti-VEGF", "😀", "👨‍👩‍👧",
      "龘", "𠀀", "  ", "\n", "\t", "1234567", "Сетчатка", "glaucoma suspect", "微动脉瘤", "硬性渗出", "无明显变化"};
  std::mt19937 rng(42);
  std::string text;
  while (text.size() < bytes) {
    text += words[rng() % (sizeof words / sizeof words[0])];
    if (rng() % 3 == 0) text += ' ';
  }
  return text;
}

}  // namespace

TEST_CASE("encode runs at more than 1 MB/s on 1 MB of mixed text") {
  const Tokenizer tokenizer = Tokenizer::from_sentencepiece_model(OPHTHA_LLAMA2_TOKENIZER);
  const std::string text = mixed_report_text(1 << 20);
  double best_seconds = 1e9;
  size_t n_tokens = 0;
  for (int run = 0; run < 3; ++run) {
    const auto start = std::chrono::steady_clock::now();
    n_tokens = tokenizer.encode(text, true).size();
    best_seconds = std::min(best_seconds, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  const double mb_per_s = static_cast<double>(text.size()) / 1e6 / best_seconds;
  std::printf("encode: %zu bytes -> %zu tokens in %.3f s = %.1f MB/s\n", text.size(), n_tokens, best_seconds, mb_per_s);
  CHECK_MESSAGE(mb_per_s > 1.0, "encode ran at " << mb_per_s << " MB/s");
  const std::vector<int32_t> ids = tokenizer.encode(text, false);
  CHECK_MESSAGE(tokenizer.decode(ids) == text, "1 MB of valid UTF-8 without \"▁\" round-trips through decode()");
}
