// BLEU and exact-match METEOR against nltk 3.8 itself: tests/tools/nltk_bleu_reference.py draws
// random tokenised corpora, scores them with nltk and writes both to JSON; we score the same tokens.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "ophtha/text_metrics.hpp"

namespace {

using ophtha::BleuSmoothing;
using ophtha::ReportTokens;

constexpr double kTolerance = 1e-9;

// Runs the reference script once per process; fails the test when Python or nltk is missing.
const nlohmann::json& nltk_reference() {
  static const nlohmann::json reference = [] {
    const std::filesystem::path work_dir = OPHTHA_TEST_WORK_DIR;
    std::filesystem::create_directories(work_dir);
    const std::filesystem::path out = work_dir / "nltk_bleu_reference.json";
    const char* python = std::getenv("OPHTHA_PYTHON");
    const std::string command = std::string("'") + (python ? python : "/usr/bin/python3") + "' '" +
                                OPHTHA_SOURCE_DIR + "/tests/tools/nltk_bleu_reference.py' '" +
                                out.string() + "' --seed 2024 --corpora 400";
    const int status = std::system(command.c_str());
    REQUIRE_MESSAGE(status == 0, "the nltk reference script failed (needs Debian's python3-nltk): ", command);
    std::ifstream in(out);
    REQUIRE_MESSAGE(in.good(), "cannot read ", out.string());
    return nlohmann::json::parse(in);
  }();
  return reference;
}

BleuSmoothing smoothing_named(const std::string& name) {
  static const std::pair<const char*, BleuSmoothing> names[] = {
      {"method0", BleuSmoothing::Method0}, {"method1", BleuSmoothing::Method1},
      {"method2", BleuSmoothing::Method2}, {"method3", BleuSmoothing::Method3},
      {"method4", BleuSmoothing::Method4}, {"method5", BleuSmoothing::Method5},
      {"method7", BleuSmoothing::Method7}};
  for (const auto& [n, s] : names) {
    if (name == n) return s;
  }
  FAIL("unknown nltk smoothing method ", name);
  return BleuSmoothing::Method0;
}

ophtha::TokenizedCorpus corpus_of(const nlohmann::json& c) {
  ophtha::TokenizedCorpus corpus;
  corpus.hypotheses = c.at("hypotheses").get<std::vector<ReportTokens>>();
  corpus.references = c.at("references").get<std::vector<std::vector<ReportTokens>>>();
  return corpus;
}

// Largest absolute and relative (to nltk's non-zero value) differences seen.
struct Agreement {
  double max_abs = 0.0;
  double max_rel = 0.0;
  size_t compared = 0;
  size_t nonzero = 0;

  void add(double ours, double nltk, const std::string& where) {
    const double abs_diff = std::fabs(ours - nltk);
    const double rel_diff = nltk != 0.0 ? abs_diff / std::fabs(nltk) : (ours == 0.0 ? 0.0 : INFINITY);
    max_abs = std::max(max_abs, abs_diff);
    max_rel = std::max(max_rel, rel_diff);
    ++compared;
    nonzero += nltk != 0.0;
    CHECK_MESSAGE(abs_diff <= kTolerance, where, ": ours ", ours, ", nltk ", nltk);
    CHECK_MESSAGE(rel_diff <= kTolerance, where, ": ours ", ours, ", nltk ", nltk, " (relative)");
  }
  void report(const char* what) const {
    const std::string label = what;
    MESSAGE(label, ": ", compared, " values (", nonzero, " non-zero), max |diff| ", max_abs,
            ", max relative diff ", max_rel);
  }
};

}  // namespace

TEST_CASE("corpus BLEU-1..4 equals nltk corpus_bleu under smoothing methods 0-5 and 7 on random corpora") {
  const nlohmann::json& reference = nltk_reference();
  REQUIRE(reference.at("cases").size() >= 400);
  Agreement agreement;
  size_t case_index = 0;
  for (const nlohmann::json& c : reference.at("cases")) {
    const ophtha::TokenizedCorpus corpus = corpus_of(c);
    for (const auto& [method, expected] : c.at("corpus_bleu").items()) {
      ophtha::BleuOptions options;
      options.smoothing = smoothing_named(method);
      const ophtha::BleuScores ours = ophtha::corpus_bleu(corpus, options);
      for (int n = 0; n < 4; ++n) {
        agreement.add(ours[n], expected.at(n).get<double>(),
                      "case " + std::to_string(case_index) + " " + method + " BLEU-" + std::to_string(n + 1));
      }
    }
    ++case_index;
  }
  agreement.report("corpus_bleu vs nltk");
  CHECK(agreement.nonzero > agreement.compared / 2);  // the corpora are not trivially scored 0
}

TEST_CASE("sentence BLEU-1..4 equals nltk sentence_bleu for every hypothesis of the random corpora") {
  const nlohmann::json& reference = nltk_reference();
  Agreement agreement;
  size_t case_index = 0;
  for (const nlohmann::json& c : reference.at("cases")) {
    const ophtha::TokenizedCorpus corpus = corpus_of(c);
    for (size_t i = 0; i < corpus.hypotheses.size(); ++i) {
      for (const auto& [method, expected] : c.at("sentence_bleu").at(i).items()) {
        ophtha::BleuOptions options;
        options.smoothing = smoothing_named(method);
        const ophtha::BleuScores ours =
            ophtha::sentence_bleu(corpus.hypotheses[i], corpus.references[i], options);
        for (int n = 0; n < 4; ++n) {
          agreement.add(ours[n], expected.at(n).get<double>(),
                        "case " + std::to_string(case_index) + " sentence " + std::to_string(i) + " " +
                            method + " BLEU-" + std::to_string(n + 1));
        }
      }
    }
    ++case_index;
  }
  agreement.report("sentence_bleu vs nltk");
}

TEST_CASE("exact-match METEOR equals nltk meteor_score with stemming and WordNet disabled") {
  const nlohmann::json& reference = nltk_reference();
  Agreement agreement;
  size_t case_index = 0;
  for (const nlohmann::json& c : reference.at("cases")) {
    const ophtha::TokenizedCorpus corpus = corpus_of(c);
    const ophtha::CorpusScore ours = ophtha::meteor_exact(corpus);
    const auto expected = c.at("meteor_exact").get<std::vector<double>>();
    REQUIRE(ours.per_report.size() == expected.size());
    double mean = 0.0;
    for (size_t i = 0; i < expected.size(); ++i) {
      agreement.add(ours.per_report[i], expected[i],
                    "case " + std::to_string(case_index) + " sentence " + std::to_string(i));
      mean += expected[i];
    }
    CHECK(ours.corpus == doctest::Approx(mean / static_cast<double>(expected.size())).epsilon(1e-12));
    ++case_index;
  }
  agreement.report("meteor_exact vs nltk");
  CHECK(agreement.nonzero > agreement.compared / 2);
}
