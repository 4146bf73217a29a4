// ROUGE-L (Lin 2004) on examples worked by hand from the paper's definitions.
#include <doctest/doctest.h>

#include <string>

#include "ophtha/error.hpp"
#include "ophtha/text_metrics.hpp"

using ophtha::ReportTokens;

// Lin 2004, §3.1: reference S1 "police killed the gunman".
//   S2 "police kill the gunman": LCS = "police the gunman" = 3, P = R = 3/4, so F = 3/4 for any β.
//   S3 "the gunman kill police": LCS = "the gunman" = 2, P = R = 2/4, F = 1/2.
TEST_CASE("ROUGE-L reproduces Lin 2004's police/gunman example") {
  const std::vector<ReportTokens> s1 = {{"police", "killed", "the", "gunman"}};
  CHECK(ophtha::sentence_rouge_l(ReportTokens{"police", "kill", "the", "gunman"}, s1) ==
        doctest::Approx(0.75).epsilon(1e-12));
  CHECK(ophtha::sentence_rouge_l(ReportTokens{"the", "gunman", "kill", "police"}, s1) ==
        doctest::Approx(0.5).epsilon(1e-12));
}

// "a b" vs "a b c d": LCS 2, P = 1, R = 1/2.
// F = (1 + β²) P R / (R + β² P); β = 1.2: 2.44 · 0.5 / (0.5 + 1.44) = 1.22 / 1.94 = 0.628866;
// β = 1: 2 · 0.5 / 1.5 = 2/3.
TEST_CASE("ROUGE-L weighs recall by beta") {
  const ReportTokens hyp = {"a", "b"};
  const std::vector<ReportTokens> refs = {{"a", "b", "c", "d"}};
  CHECK(ophtha::sentence_rouge_l(hyp, refs) == doctest::Approx(1.22 / 1.94).epsilon(1e-12));
  CHECK(ophtha::sentence_rouge_l(hyp, refs, 1.0) == doctest::Approx(2.0 / 3.0).epsilon(1e-12));
  CHECK_THROWS_AS(ophtha::sentence_rouge_l(hyp, refs, 0.0), ophtha::Error);
}

// hypothesis "a b c d", references r1 "a b" and r2 "a b c d e f g h":
//   r1: LCS 2, P = 2/4, R = 2/2;  r2: LCS 4, P = 4/4, R = 4/8.
// pycocoevalcap takes P = max = 1 and R = max = 1 separately, so F = 1, although neither
// reference alone gives more than max(F_r1, F_r2) = max(1.22/1.72, 1.22/1.94) = 0.709.
TEST_CASE("with several references P and R are maximised separately, as pycocoevalcap does") {
  const std::vector<ReportTokens> refs = {{"a", "b"}, {"a", "b", "c", "d", "e", "f", "g", "h"}};
  CHECK(ophtha::sentence_rouge_l(ReportTokens{"a", "b", "c", "d"}, refs) == doctest::Approx(1.0).epsilon(1e-12));
}

// Corpus: report 1 is the S2 example (3/4), report 2 has no common token (0), report 3 is
// identical to its reference (1): mean = (0.75 + 0 + 1) / 3.
TEST_CASE("corpus ROUGE-L is the mean of per-report scores") {
  ophtha::TokenizedCorpus corpus;
  corpus.hypotheses = {{"police", "kill", "the", "gunman"}, {"x"}, {"视", "力"}};
  corpus.references = {{{"police", "killed", "the", "gunman"}}, {{"y", "z"}}, {{"视", "力"}}};
  const ophtha::CorpusScore score = ophtha::rouge_l(corpus);
  REQUIRE(score.per_report.size() == 3);
  CHECK(score.per_report[0] == doctest::Approx(0.75).epsilon(1e-12));
  CHECK(score.per_report[1] == 0.0);
  CHECK(score.per_report[2] == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(score.corpus == doctest::Approx(1.75 / 3.0).epsilon(1e-12));
}

// "b a c" vs "a b c": LCS = 2 ("a c" or "b c"), F = 2/3 (P = R); a plain token overlap would
// give 1. Order matters.
TEST_CASE("ROUGE-L counts the longest in-order subsequence, not the overlap") {
  CHECK(ophtha::sentence_rouge_l(ReportTokens{"b", "a", "c"}, {{"a", "b", "c"}}) ==
        doctest::Approx(2.0 / 3.0).epsilon(1e-12));
  // Raw text: "视力下降" vs "视力明显下降": LCS = 4 characters, P = 4/4, R = 4/6.
  const double p = 1.0, r = 4.0 / 6.0;
  CHECK(ophtha::sentence_rouge_l(std::string_view("视力下降"), {"视力明显下降"}) ==
        doctest::Approx(2.44 * p * r / (r + 1.44 * p)).epsilon(1e-12));
}

TEST_CASE("empty texts score 0 and corpus errors name the index") {
  CHECK(ophtha::sentence_rouge_l(ReportTokens{}, {{"a"}}) == 0.0);
  CHECK(ophtha::sentence_rouge_l(ReportTokens{"a"}, {{}}) == 0.0);
  ophtha::TokenizedCorpus corpus;
  corpus.hypotheses = {{"a"}, {"b"}, {"c"}};
  corpus.references = {{{"a"}}, {{"b"}}, {}};
  try {
    ophtha::rouge_l(corpus);
    FAIL("accepted a hypothesis without references");
  } catch (const ophtha::Error& error) {
    CHECK(std::string(error.what()) == "ROUGE-L: hypothesis 2 has no references");
  }
}

// Every ordered pair scored as sentence_rouge_l scores it with the other as the one reference,
// bit for bit (line refinement sums these to choose a wording), an empty text scoring 0 both ways.
TEST_CASE("pairwise_rouge_l gives each ordered pair what sentence_rouge_l gives it") {
  const std::vector<ReportTokens> texts = {{"police", "killed", "the", "gunman"},
                                           {"the", "gunman", "kill", "police"},
                                           {"police", "kill", "the", "gunman", "today"},
                                           {},
                                           {"a", "b"}};
  for (double beta : {1.0, 1.2}) {
    const std::vector<std::vector<double>> scores = ophtha::pairwise_rouge_l(texts, beta);
    REQUIRE(scores.size() == texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
      REQUIRE(scores[i].size() == texts.size());
      CHECK(scores[i][i] == 0.0);
      for (size_t j = 0; j < texts.size(); ++j)
        if (j != i) CHECK(scores[i][j] == ophtha::sentence_rouge_l(texts[i], {texts[j]}, beta));
    }
  }
  // Lin's example both ways, and β = 1.2 not symmetric: "police kill the gunman today" against S1
  // has P = 3/5, R = 3/4 as hypothesis and the reverse as reference.
  const std::vector<std::vector<double>> scores = ophtha::pairwise_rouge_l(texts);
  CHECK(scores[0][1] == doctest::Approx(0.5).epsilon(1e-12));
  CHECK(scores[2][0] == doctest::Approx(2.44 * 0.6 * 0.75 / (0.75 + 1.44 * 0.6)).epsilon(1e-12));
  CHECK(scores[0][2] == doctest::Approx(2.44 * 0.75 * 0.6 / (0.6 + 1.44 * 0.75)).epsilon(1e-12));
  CHECK(ophtha::pairwise_rouge_l({}).empty());
  CHECK_THROWS_AS(ophtha::pairwise_rouge_l(texts, 0.0), ophtha::Error);
}
