// Exact-match METEOR on examples worked by hand (Lavie & Agarwal 2007 parameters α 0.9, β 3, γ 0.5).
#include <doctest/doctest.h>

#include <string>

#include "ophtha/error.hpp"
#include "ophtha/text_metrics.hpp"

using ophtha::ReportTokens;

// Identical 3-token texts: m = 3, P = R = 1, Fmean = 1, one chunk, frag = 1/3,
// penalty = 0.5 · (1/3)^3 = 1/54, score = 53/54.
TEST_CASE("identical texts lose only the one-chunk penalty") {
  CHECK(ophtha::sentence_meteor_exact(ReportTokens{"the", "cat", "sat"}, {{"the", "cat", "sat"}}) ==
        doctest::Approx(53.0 / 54.0).epsilon(1e-12));
}

// "a b" vs "a b c d": m = 2, P = 1, R = 1/2, Fmean = P R / (0.9 P + 0.1 R) = 0.5 / 0.95,
// one chunk, frag = 1/2, penalty = 0.5 · 1/8 = 1/16, score = 15/16 · 0.5/0.95.
TEST_CASE("Fmean weighs recall nine times precision") {
  CHECK(ophtha::sentence_meteor_exact(ReportTokens{"a", "b"}, {{"a", "b", "c", "d"}}) ==
        doctest::Approx(15.0 / 16.0 * 0.5 / 0.95).epsilon(1e-12));
  ophtha::MeteorOptions balanced;
  balanced.alpha = 0.5;  // Fmean = harmonic mean = 2/3
  CHECK(ophtha::sentence_meteor_exact(ReportTokens{"a", "b"}, {{"a", "b", "c", "d"}}, balanced) ==
        doctest::Approx(15.0 / 16.0 * 2.0 / 3.0).epsilon(1e-12));
}

// hypothesis "the cat sat on the mat" (0..5), reference "on the mat sat the cat" (0..5).
// nltk's exact stage, hypothesis from last to first, each to the last free equal reference word:
//   mat5->2, the4->4, on3->0, sat2->3, cat1->5, the0->1.
// Sorted by hypothesis: (0,1) (1,5) (2,3) (3,0) (4,4) (5,2): no two adjacent in both -> 6 chunks.
// m = 6, P = R = 1, Fmean = 1, frag = 1, penalty = 0.5, score = 0.5.
TEST_CASE("scrambled word order costs the fragmentation penalty") {
  CHECK(ophtha::sentence_meteor_exact(ReportTokens{"the", "cat", "sat", "on", "the", "mat"},
                                      {{"on", "the", "mat", "sat", "the", "cat"}}) ==
        doctest::Approx(0.5).epsilon(1e-12));
  // "b c a" vs "a b c": matches (0,1) (1,2) (2,0) -> chunks "b c" and "a" = 2, frag = 2/3,
  // penalty = 0.5 · 8/27 = 4/27, score = 23/27.
  CHECK(ophtha::sentence_meteor_exact(ReportTokens{"b", "c", "a"}, {{"a", "b", "c"}}) ==
        doctest::Approx(23.0 / 27.0).epsilon(1e-12));
}

// The best reference wins: vs "x" the score is 0, vs "a b" it is 1 · (1 - 0.5 · (1/2)^3) = 15/16.
TEST_CASE("the best reference gives the score and the corpus score is the mean") {
  CHECK(ophtha::sentence_meteor_exact(ReportTokens{"a", "b"}, {{"x"}, {"a", "b"}}) ==
        doctest::Approx(15.0 / 16.0).epsilon(1e-12));
  const ophtha::CorpusScore score =
      ophtha::meteor_exact({"视力下降", "no match", ""}, {{"视力下降"}, {"other words"}, {"a"}});
  REQUIRE(score.per_report.size() == 3);
  // 4 characters in one chunk: 1 - 0.5 · (1/4)^3 = 1 - 1/128.
  CHECK(score.per_report[0] == doctest::Approx(127.0 / 128.0).epsilon(1e-12));
  CHECK(score.per_report[1] == 0.0);
  CHECK(score.per_report[2] == 0.0);
  CHECK(score.corpus == doctest::Approx(127.0 / 128.0 / 3.0).epsilon(1e-12));
}

TEST_CASE("METEOR rejects parameters out of range and corpora of different sizes") {
  ophtha::MeteorOptions options;
  options.alpha = 1.5;
  CHECK_THROWS_AS(ophtha::sentence_meteor_exact(ReportTokens{"a"}, {{"a"}}, options), ophtha::Error);
  try {
    ophtha::meteor_exact(ophtha::TokenizedCorpus{{{"a"}}, {}});
    FAIL("accepted 1 hypothesis with 0 reference sets");
  } catch (const ophtha::Error& error) {
    CHECK(std::string(error.what()) == "METEOR: corpus has 1 hypotheses but 0 reference sets");
  }
}
