// BLEU on examples worked by hand from Papineni et al. (2002) and nltk's smoothing definitions.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "ophtha/error.hpp"
#include "ophtha/text_metrics.hpp"

using ophtha::BleuOptions;
using ophtha::BleuSmoothing;
using ophtha::ReportTokens;

namespace {

BleuOptions with(BleuSmoothing smoothing) {
  BleuOptions options;
  options.smoothing = smoothing;
  return options;
}

std::string error_of(const ophtha::TokenizedCorpus& corpus) {
  try {
    ophtha::corpus_bleu(corpus);
  } catch (const ophtha::Error& error) {
    CHECK(error.code() == ophtha::ErrorCode::InvalidArgument);
    return error.what();
  }
  return "no error";
}

}  // namespace

// hypothesis "a b c d", reference "a b c e", c = r = 4 so BP = 1:
//   unigrams a b c d: a b c match           p1 = 3/4
//   bigrams ab bc cd: ab bc match           p2 = 2/3
//   trigrams abc bcd: abc matches           p3 = 1/2
//   4-gram abcd: no match                   p4 = 0/1
TEST_CASE("BLEU-n is the geometric mean of the first n modified precisions") {
  const ReportTokens hyp = {"a", "b", "c", "d"};
  const std::vector<ReportTokens> refs = {{"a", "b", "c", "e"}};
  const auto none = ophtha::sentence_bleu(hyp, refs);
  CHECK(none[0] == doctest::Approx(0.75).epsilon(1e-12));
  CHECK(none[1] == doctest::Approx(std::sqrt(0.75 * 2.0 / 3.0)).epsilon(1e-12));
  CHECK(none[2] == doctest::Approx(std::cbrt(0.75 * 2.0 / 3.0 * 0.5)).epsilon(1e-12));
  // method0: p4 becomes DBL_MIN (nltk's sys.float_info.min), so BLEU-4 is ~1e-77, not exactly 0.
  CHECK(none[3] > 0.0);
  CHECK(none[3] < 1e-70);

  // method1: p4 = (0 + 0.1) / 1
  CHECK(ophtha::sentence_bleu(hyp, refs, with(BleuSmoothing::Method1))[3] ==
        doctest::Approx(std::pow(0.75 * 2.0 / 3.0 * 0.5 * 0.1, 0.25)).epsilon(1e-12));
  // method2: orders >= 2 become (m + 1) / (t + 1): 3/4, 2/3, 1/2
  CHECK(ophtha::sentence_bleu(hyp, refs, with(BleuSmoothing::Method2))[3] ==
        doctest::Approx(std::pow(0.75 * 0.75 * 2.0 / 3.0 * 0.5, 0.25)).epsilon(1e-12));
  // method3: the first order without a match gets 1 / (2^1 · 1)
  CHECK(ophtha::sentence_bleu(hyp, refs, with(BleuSmoothing::Method3))[3] ==
        doctest::Approx(std::pow(0.75 * 2.0 / 3.0 * 0.5 * 0.5, 0.25)).epsilon(1e-12));
  // method4: 1 / (2^1 · 5 / ln 4) / 1 = ln 4 / 10
  CHECK(ophtha::sentence_bleu(hyp, refs, with(BleuSmoothing::Method4))[3] ==
        doctest::Approx(std::pow(0.75 * 2.0 / 3.0 * 0.5 * std::log(4.0) / 10.0, 0.25)).epsilon(1e-12));
  // Smoothing never touches orders that have matches.
  for (BleuSmoothing s : {BleuSmoothing::Method1, BleuSmoothing::Method3, BleuSmoothing::Method4}) {
    CHECK(ophtha::sentence_bleu(hyp, refs, with(s))[2] == doctest::Approx(none[2]).epsilon(1e-12));
  }
}

TEST_CASE("the brevity penalty uses the closest reference length, the shorter one on a tie") {
  // c = 2, r = 4: BP = exp(1 - 4/2) = e^-1, p1 = 1.
  CHECK(ophtha::sentence_bleu(ReportTokens{"a", "b"}, {{"a", "b", "c", "d"}})[0] ==
        doctest::Approx(std::exp(-1.0)).epsilon(1e-12));
  // c = 3, references of length 2 and 4 are equally close: r = 2 < c, so BP = 1 (r = 4 would give
  // exp(1 - 4/3) = 0.7165). p1 = 3/3.
  CHECK(ophtha::sentence_bleu(ReportTokens{"a", "b", "c"}, {{"a", "b", "c", "d"}, {"a", "b"}})[0] ==
        doctest::Approx(1.0).epsilon(1e-12));
}

TEST_CASE("corpus BLEU sums matches over the corpus instead of averaging sentence scores") {
  // Sentence 1: "a b" vs "a b": 2/2 unigrams; sentence 2: "x y z w" vs "a b c d": 0/4.
  // Corpus p1 = 2/6, c = r = 6, BLEU-1 = 1/3; the mean of sentence BLEU-1 would be (1 + 0)/2.
  ophtha::TokenizedCorpus corpus;
  corpus.hypotheses = {{"a", "b"}, {"x", "y", "z", "w"}};
  corpus.references = {{{"a", "b"}}, {{"a", "b", "c", "d"}}};
  CHECK(ophtha::corpus_bleu(corpus)[0] == doctest::Approx(1.0 / 3.0).epsilon(1e-12));
}

TEST_CASE("BLEU is 0 without unigram matches and for empty hypotheses, whatever the smoothing") {
  for (BleuSmoothing s : {BleuSmoothing::Method0, BleuSmoothing::Method1, BleuSmoothing::Method2,
                          BleuSmoothing::Method3, BleuSmoothing::Method4, BleuSmoothing::Method5,
                          BleuSmoothing::Method7}) {
    CHECK(ophtha::sentence_bleu(ReportTokens{"x", "y"}, {{"a", "b"}}, with(s)) == ophtha::BleuScores{});
    CHECK(ophtha::sentence_bleu(ReportTokens{}, {{"a", "b"}}, with(s)) == ophtha::BleuScores{});
  }
}

TEST_CASE("raw report text is tokenised before scoring") {
  const auto from_text = ophtha::corpus_bleu({"双眼黄斑区见玻璃膜疣。", "Drusen OU, VA 0.5."},
                                             {{"双眼黄斑区玻璃膜疣。"}, {"drusen in both eyes, va 0.5"}});
  const auto from_tokens = ophtha::corpus_bleu(ophtha::tokenize_corpus(
      {"双眼黄斑区见玻璃膜疣。", "Drusen OU, VA 0.5."}, {{"双眼黄斑区玻璃膜疣。"}, {"drusen in both eyes, va 0.5"}}));
  CHECK(from_text == from_tokens);
  CHECK(from_text[0] > 0.5);
  CHECK(ophtha::sentence_bleu(std::string_view("视力0.5"), {"视力0.5"})[2] == doctest::Approx(1.0));
}

TEST_CASE("corpus errors name the sizes or the index") {
  ophtha::TokenizedCorpus corpus;
  CHECK(error_of(corpus) == "BLEU: corpus is empty");
  corpus.hypotheses = {{"a"}, {"b"}};
  corpus.references = {{{"a"}}};
  CHECK(error_of(corpus) == "BLEU: corpus has 2 hypotheses but 1 reference sets");
  corpus.references = {{{"a"}}, {}};
  CHECK(error_of(corpus) == "BLEU: hypothesis 1 has no references");
  BleuOptions options = with(BleuSmoothing::Method1);
  options.epsilon = 0.0;
  CHECK_THROWS_AS(ophtha::sentence_bleu(ReportTokens{"a"}, {{"a"}}, options), ophtha::Error);
}
