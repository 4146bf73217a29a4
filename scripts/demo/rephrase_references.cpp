// Measures the ROUGE-L a perfect model can expect: every study's reference report re-written from
// the very same labels with another phrasing seed (report_writer.hpp), as a predictions file for
// `ophtha eval`. The references pick their wording at random, so even exact labels do not give
// ROUGE-L 1 (docs/training.md, "The demo model"). With `--central K`, each report is the one of K
// such re-writings whose words agree most with the other K − 1 (the highest summed ROUGE-L, at
// β = 1 as line refinement chooses wording — line_refinement.hpp "Wording" — or at `--beta B`;
// 1.2 is the metric's own): the minimum-Bayes-risk wording among K, what exact labels in the
// wording the references' writer agrees with most can expect. It rises with K (measured in
// docs/training.md). Measurement only; not part of the library. K = 256 takes about 26 minutes on
// 200 studies on one core: K² comparisons a report.
//
//   g++ -std=c++17 -O2 -Iinclude -Ibuild/include scripts/demo/rephrase_references.cpp \
//       -Lbuild -lophtha -Wl,-rpath,$PWD/build -o build/rephrase_references
//   build/rephrase_references DATA/manifest.jsonl [--central K [--beta B]] > rephrased.jsonl
//   build/ophtha eval --manifest DATA/manifest.jsonl --predictions rephrased.jsonl --out eval-rephrased
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ophtha/manifest.hpp"
#include "ophtha/random.hpp"
#include "ophtha/report_tokenizer.hpp"
#include "ophtha/report_writer.hpp"
#include "ophtha/text_metrics.hpp"

namespace {

// The index of the text with the highest summed ROUGE-L (at `beta`) against the others; ties to the first.
size_t most_central(const std::vector<std::string>& texts, double beta) {
  std::vector<ophtha::ReportTokens> words;
  for (const std::string& text : texts) words.push_back(ophtha::tokenize_report(text));
  const std::vector<std::vector<double>> rouge = ophtha::pairwise_rouge_l(words, beta);
  size_t best = 0;
  double best_sum = -1;
  for (size_t i = 0; i < texts.size(); ++i) {
    double sum = 0;
    for (double r : rouge[i]) sum += r;
    if (sum > best_sum) best = i, best_sum = sum;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int central = 1;
  double beta = 1.0;
  bool usage_ok = argc == 2 || argc == 4 || argc == 6;
  for (int i = 2; usage_ok && i + 1 < argc; i += 2) {
    char* end = nullptr;
    if (std::strcmp(argv[i], "--central") == 0) {
      const long k = std::strtol(argv[i + 1], &end, 10);
      usage_ok = *end == '\0' && k >= 1 && k <= 1024;
      central = static_cast<int>(k);
    } else if (std::strcmp(argv[i], "--beta") == 0) {
      beta = std::strtod(argv[i + 1], &end);
      usage_ok = *end == '\0' && beta > 0 && beta <= 10;
    } else {
      usage_ok = false;
    }
  }
  if (!usage_ok) {
    std::fprintf(stderr, "usage: %s MANIFEST.jsonl [--central K (1..1024)] [--beta B (0..10], default 1)] > PREDICTIONS.jsonl\n",
                 argv[0]);
    return 2;
  }
  try {
    const ophtha::Manifest manifest = ophtha::read_manifest(argv[1]);
    uint64_t k = 0;
    for (const ophtha::Study& study : manifest.studies)
      for (const char* lang : {"zh", "en"}) {
        std::vector<std::string> texts;
        for (int i = 0; i < central; ++i) {
          // Any seeds the synthesiser did not use; the first re-writing is the one without --central.
          ophtha::Random rng(987654321ull + k + 1000003ull * static_cast<uint64_t>(i));
          texts.push_back(ophtha::write_report(study.labels, lang, rng));
        }
        ++k;
        const nlohmann::json line = {{"id", study.id}, {"lang", lang}, {"report", texts[most_central(texts, beta)]}};
        std::printf("%s\n", line.dump().c_str());
      }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
