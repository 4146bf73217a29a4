// Tokenizer benchmark: encode and decode throughput of the LLaMA 2 tokenizer, in MB of text per
// second (1 MB = 10^6 bytes of UTF-8; decode gives the same text back), on ~1 MB of mixed
// Chinese/English report text with numbers, emoji, rare CJK and whitespace.
//
//   ophtha_bench_tokenizer [TOKENIZER_MODEL] [--repetitions N] [--bytes N] [--save-text FILE]
//
// TOKENIZER_MODEL defaults to the repository's tests/data/llama2-tokenizer.model. One warm-up run,
// then N timed runs (default 10) of encode (no BOS) and of decode; prints mean ± sd. --save-text
// writes the text, so that bench/sentencepiece_bench.py can time SentencePiece on the same bytes.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "ophtha/tokenizer.hpp"
#include "common/sample_stats.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string tokenizer = OPHTHA_LLAMA2_TOKENIZER;
  int repetitions = 10;
  size_t bytes = 1 << 20;
  std::string save_text;
};

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


// MB/s of each timed run of `job` (after one warm-up run) over `bytes` bytes.
template <typename Job>
std::vector<double> megabytes_per_second(int repetitions, size_t bytes, Job job) {
  std::vector<double> rates;
  for (int run = 0; run <= repetitions; ++run) {
    const auto start = Clock::now();
    job();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (run > 0) rates.push_back(static_cast<double>(bytes) / 1e6 / seconds);
  }
  return rates;
}

[[noreturn]] void usage(const char* program) {
  std::fprintf(stderr, "usage: %s [TOKENIZER_MODEL] [--repetitions N] [--bytes N] [--save-text FILE]\n", program);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--repetitions" && value) {
      o.repetitions = std::atoi(value);
      ++i;
    } else if (arg == "--bytes" && value) {
      o.bytes = static_cast<size_t>(std::atoll(value));
      ++i;
    } else if (arg == "--save-text" && value) {
      o.save_text = value;
      ++i;
    } else if (arg.rfind("--", 0) != 0) {
      o.tokenizer = arg;
    } else {
      usage(argv[0]);
    }
  }
  if (o.repetitions < 1 || o.bytes < 1) usage(argv[0]);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  try {
    const ophtha::Tokenizer tokenizer = ophtha::Tokenizer::from_sentencepiece_model(options.tokenizer);
    const std::string text = mixed_report_text(options.bytes);
    if (!options.save_text.empty()) {
      std::ofstream out(options.save_text, std::ios::binary | std::ios::trunc);
      out.write(text.data(), static_cast<std::streamsize>(text.size()));
      if (!out) throw std::runtime_error("cannot write " + options.save_text);
    }
    std::vector<int32_t> ids;
    std::string decoded;
    const ophtha::SampleStats encode = ophtha::sample_stats(megabytes_per_second(options.repetitions, text.size(), [&] {
      ids = tokenizer.encode(text, false);
    }));
    const ophtha::SampleStats decode = ophtha::sample_stats(megabytes_per_second(options.repetitions, text.size(), [&] {
      decoded = tokenizer.decode(ids);
    }));
    std::printf("tokenizer: %s\ntext: %zu bytes -> %zu tokens; %d timed runs after 1 warm-up\n",
                options.tokenizer.c_str(), text.size(), ids.size(), options.repetitions);
    std::printf("encode: %7.2f ± %.2f MB/s\ndecode: %7.2f ± %.2f MB/s%s\n", encode.mean, encode.sd, decode.mean,
                decode.sd, decoded == text ? "" : "  (decode(encode(text)) != text!)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
  return 0;
}
