// CIDEr-D (Vedantam et al. 2015, pycocoevalcap's CiderD) on corpora small enough to compute the
// tf-idf by hand, and its invariances.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "ophtha/error.hpp"
#include "ophtha/text_metrics.hpp"

using ophtha::ReportTokens;

namespace {

ophtha::TokenizedCorpus corpus_of(std::vector<ReportTokens> hypotheses,
                                  std::vector<std::vector<ReportTokens>> references) {
  return ophtha::TokenizedCorpus{std::move(hypotheses), std::move(references)};
}

}  // namespace

// N = 2 reports, each hypothesis equal to its sole reference: "a b" and "c d".
// Every n-gram occurs in one report's references: df = 1, weight = tf · (ln 2 - ln 1) = ln 2 = L.
// Report 1: unigrams {a: L, b: L} vs the same: Σ min(w,w)·w = 2L², norms √2 L · √2 L = 2L² -> 1.
// Bigrams {ab: L}: 1. No trigrams or 4-grams: 0 (norms 0). Lengths equal: penalty 1.
// Score = 10 · (1 + 1 + 0 + 0) / 4 = 5; the same for report 2.
TEST_CASE("a hypothesis equal to its two-word reference scores 10 · 2/4") {
  const ophtha::CorpusScore score = ophtha::cider_d(corpus_of({{"a", "b"}, {"c", "d"}}, {{{"a", "b"}}, {{"c", "d"}}}));
  REQUIRE(score.per_report.size() == 2);
  CHECK(score.per_report[0] == doctest::Approx(5.0).epsilon(1e-12));
  CHECK(score.per_report[1] == doctest::Approx(5.0).epsilon(1e-12));
  CHECK(score.corpus == doctest::Approx(5.0).epsilon(1e-12));
}

// N = 3; references "a b c", "a d e", "a f g"; hypothesis 1 = "a b x", hypotheses 2, 3 = their
// references. L = ln 3. "a" is in all 3 reports: df 3, weight ln 3 - ln 3 = 0 (carries nothing).
// b, c, ab, bc, abc: df 1 -> L. x, bx, abx: in no reference, df 0 -> ln max(1, 0) = 0 -> L.
// Report 1 unigrams: hyp {a:0, b:L, x:L}, ref {a:0, b:L, c:L}: Σ = L² (b only), norms √2L·√2L
//   -> 1/2. Bigrams: hyp {ab:L, bx:L}, ref {ab:L, bc:L} -> 1/2. Trigrams: {abx} vs {abc} -> 0.
//   No 4-grams -> 0. Equal lengths. Score = 10 · (1/2 + 1/2 + 0 + 0)/4 = 2.5.
// Report 2: unigrams {a:0, d:L, e:L} vs itself -> 2L²/2L² = 1; bigrams, trigram -> 1; 4: 0 -> 7.5.
TEST_CASE("n-grams in every report's references carry no weight and unseen n-grams only add to the norm") {
  const ophtha::CorpusScore score =
      ophtha::cider_d(corpus_of({{"a", "b", "x"}, {"a", "d", "e"}, {"a", "f", "g"}},
                                {{{"a", "b", "c"}}, {{"a", "d", "e"}}, {{"a", "f", "g"}}}));
  REQUIRE(score.per_report.size() == 3);
  CHECK(score.per_report[0] == doctest::Approx(2.5).epsilon(1e-12));
  CHECK(score.per_report[1] == doctest::Approx(7.5).epsilon(1e-12));
  CHECK(score.per_report[2] == doctest::Approx(7.5).epsilon(1e-12));
  CHECK(score.corpus == doctest::Approx(17.5 / 3.0).epsilon(1e-12));
}

// N = 2, L = ln 2. Report 1: hypothesis "a a", reference "a b"; report 2: "c d" / "c d".
// Unigrams: hyp {a: 2L}, ref {a: L, b: L}. Clipped: min(2L, L) · L = L²; norms 2L · √2L
//   -> 1/(2√2) (without clipping it would be 2L²/(2√2L²) = 1/√2).
// Bigrams: {aa: L} (df 0) vs {ab: L} -> 0. Score = 10 · (1/(2√2)) / 4 = 10 / (8√2).
TEST_CASE("hypothesis counts are clipped by the reference's") {
  const ophtha::CorpusScore score =
      ophtha::cider_d(corpus_of({{"a", "a"}, {"c", "d"}}, {{{"a", "b"}}, {{"c", "d"}}}));
  CHECK(score.per_report[0] == doctest::Approx(10.0 / (8.0 * std::sqrt(2.0))).epsilon(1e-12));
}

// N = 2, L = ln 2. Report 1: hypothesis "a b", reference "a b c d e f g h" (8 words, all df 1).
// Unigrams: Σ = 2L², norms √2L · √8L = 4L² -> 1/2. Bigrams: {ab} vs 7 bigrams: L² / (L · √7L)
//   = 1/√7. No trigrams in the hypothesis -> 0. Length difference 2 - 8 = -6, σ = 6:
//   penalty exp(-36/72) = exp(-1/2). Score = 10 · (1/2 + 1/√7) / 4 · exp(-1/2).
TEST_CASE("a length difference costs the Gaussian penalty with sigma 6") {
  const auto corpus = corpus_of({{"a", "b"}, {"x", "y"}},
                                {{{"a", "b", "c", "d", "e", "f", "g", "h"}}, {{"x", "y"}}});
  const double expected = 10.0 * (0.5 + 1.0 / std::sqrt(7.0)) / 4.0 * std::exp(-0.5);
  CHECK(ophtha::cider_d(corpus).per_report[0] == doctest::Approx(expected).epsilon(1e-12));
  ophtha::CiderOptions wide;
  wide.sigma = 12.0;  // exp(-36/288) = exp(-1/8)
  CHECK(ophtha::cider_d(corpus, wide).per_report[0] ==
        doctest::Approx(10.0 * (0.5 + 1.0 / std::sqrt(7.0)) / 4.0 * std::exp(-0.125)).epsilon(1e-12));
}

TEST_CASE("each hypothesis equal to its sole reference of 4+ words scores 10 when no n-gram order is shared by all reports") {
  // Shared words ("the", "eye") lower the weights equally on both sides, so the cosines stay 1.
  const std::vector<ReportTokens> texts = {{"the", "eye", "shows", "drusen", "at", "macula"},
                                           {"the", "eye", "is", "normal"},
                                           {"the", "eye", "has", "haemorrhages", "and", "exudates"}};
  std::vector<std::vector<ReportTokens>> references;
  for (const auto& text : texts) references.push_back({text});
  const ophtha::CorpusScore score = ophtha::cider_d(corpus_of(texts, references));
  for (double s : score.per_report) CHECK(s == doctest::Approx(10.0).epsilon(1e-12));
}

TEST_CASE("when every report has the same reference and hypothesis, every idf is 0 and so is CIDEr-D") {
  const ReportTokens text = {"normal", "fundus", "both", "eyes"};
  const auto score = ophtha::cider_d(corpus_of({text, text, text}, {{text}, {text}, {text}}));
  for (double s : score.per_report) CHECK(s == 0.0);
  // A one-report corpus: ln N = 0, so every weight is 0.
  CHECK(ophtha::cider_d(corpus_of({text}, {{text}})).corpus == 0.0);
}

TEST_CASE("CIDEr-D does not depend on report order or on a duplicated reference") {
  std::vector<ReportTokens> hyps = {{"a", "b", "c", "x"}, {"b", "c", "d"}, {"e", "a", "b"}};
  std::vector<std::vector<ReportTokens>> refs = {
      {{"a", "b", "c", "d"}, {"a", "b"}}, {{"b", "c", "d", "e"}}, {{"e", "a", "b", "c"}, {"f"}}};
  const ophtha::CorpusScore original = ophtha::cider_d(corpus_of(hyps, refs));
  CHECK(original.corpus > 0.0);

  const ophtha::CorpusScore permuted =
      ophtha::cider_d(corpus_of({hyps[2], hyps[0], hyps[1]}, {refs[2], refs[0], refs[1]}));
  CHECK(permuted.per_report[0] == doctest::Approx(original.per_report[2]).epsilon(1e-12));
  CHECK(permuted.per_report[1] == doctest::Approx(original.per_report[0]).epsilon(1e-12));
  CHECK(permuted.per_report[2] == doctest::Approx(original.per_report[1]).epsilon(1e-12));
  CHECK(permuted.corpus == doctest::Approx(original.corpus).epsilon(1e-12));

  // Report 2's sole reference given twice: df counts reports, not references, and the score
  // averages over references, so nothing changes.
  auto duplicated = refs;
  duplicated[1].push_back(duplicated[1][0]);
  const ophtha::CorpusScore twice = ophtha::cider_d(corpus_of(hyps, duplicated));
  for (size_t i = 0; i < 3; ++i) {
    CHECK(twice.per_report[i] == doctest::Approx(original.per_report[i]).epsilon(1e-12));
  }
}

TEST_CASE("CIDEr-D takes raw text, rejects sigma <= 0 and names a hypothesis without references") {
  const auto from_text = ophtha::cider_d({"双眼玻璃膜疣", "视力0.5"}, {{"双眼黄斑玻璃膜疣"}, {"视力0.5"}});
  const auto from_tokens = ophtha::cider_d(
      ophtha::tokenize_corpus({"双眼玻璃膜疣", "视力0.5"}, {{"双眼黄斑玻璃膜疣"}, {"视力0.5"}}));
  CHECK(from_text.per_report == from_tokens.per_report);
  CHECK(from_text.per_report[1] > from_text.per_report[0]);

  ophtha::CiderOptions bad;
  bad.sigma = 0.0;
  CHECK_THROWS_AS(ophtha::cider_d(corpus_of({{"a"}, {"b"}}, {{{"a"}}, {{"b"}}}), bad), ophtha::Error);
  try {
    ophtha::cider_d(corpus_of({{"a"}, {"b"}}, {{}, {{"b"}}}));
    FAIL("accepted a hypothesis without references");
  } catch (const ophtha::Error& error) {
    CHECK(std::string(error.what()) == "CIDEr-D: hypothesis 0 has no references");
  }
}
