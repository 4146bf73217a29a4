// The filters of the sampling chain, each checked for the exact set it keeps on hand-worked examples.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ophtha/error.hpp"
#include "sampling/sampler_chain.hpp"

using namespace ophtha;
using namespace ophtha::sampling;

namespace {

// Candidates with logit log(p) for each probability p, ids 0..n-1: softmax gives back p exactly
// up to rounding when the p sum to 1.
std::vector<TokenCandidate> from_probabilities(const std::vector<double>& probabilities) {
  std::vector<TokenCandidate> candidates;
  for (size_t i = 0; i < probabilities.size(); ++i)
    candidates.push_back({static_cast<float>(std::log(probabilities[i])), static_cast<int32_t>(i)});
  return candidates;
}

std::vector<int32_t> ids_of(const std::vector<TokenCandidate>& candidates) {
  std::vector<int32_t> ids;
  for (const TokenCandidate& c : candidates) ids.push_back(c.id);
  return ids;
}

std::vector<int32_t> sorted_ids_of(const std::vector<TokenCandidate>& candidates) {
  std::vector<int32_t> ids = ids_of(candidates);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<TokenCandidate> sorted_best_first(std::vector<TokenCandidate> candidates) {
  keep_top_k(candidates, static_cast<int32_t>(candidates.size()));
  return candidates;
}

}  // namespace

TEST_CASE("top-k keeps the k highest logits best first, breaking ties towards lower ids") {
  std::vector<TokenCandidate> candidates{{1.0f, 0}, {3.0f, 1}, {0.0f, 2}, {3.0f, 3}, {5.0f, 4}, {3.0f, 5}};
  keep_top_k(candidates, 3);
  CHECK_MESSAGE((ids_of(candidates) == std::vector<int32_t>{4, 1, 3}), "expected ids 4, 1, 3 (5 loses the tie)");

  std::vector<TokenCandidate> few{{1.0f, 0}, {2.0f, 1}};
  keep_top_k(few, 40);
  CHECK_MESSAGE((ids_of(few) == std::vector<int32_t>{1, 0}), "k above the size keeps all, sorted");
}

TEST_CASE("top-p keeps the shortest prefix whose probability reaches p") {
  // Probabilities 0.5, 0.2, 0.15, 0.1, 0.05 spread over shuffled ids, so the sort matters.
  // Best first: id 3 (0.5), id 0 (0.2), id 4 (0.15), id 1 (0.1), id 2 (0.05);
  // cumulative 0.5, 0.7, 0.85, 0.95, 1.0.
  const std::vector<TokenCandidate> candidates = sorted_best_first(from_probabilities({0.2, 0.1, 0.05, 0.5, 0.15}));
  REQUIRE(ids_of(candidates) == std::vector<int32_t>{3, 0, 4, 1, 2});

  struct Case {
    float p;
    std::vector<int32_t> kept;
  };
  for (const Case& c : {Case{0.45f, {3}}, Case{0.6f, {3, 0}}, Case{0.75f, {3, 0, 4}}, Case{0.9f, {3, 0, 4, 1}},
                        Case{0.99f, {3, 0, 4, 1, 2}}}) {
    std::vector<TokenCandidate> kept = candidates;
    keep_top_p(kept, c.p);
    CHECK_MESSAGE(ids_of(kept) == c.kept, "top_p = " << c.p << " should keep " << c.kept.size() << " ids");
  }
}

TEST_CASE("top-p on an unsorted vocabulary keeps the same prefix as a full sort would") {
  // 5000 nearly flat logits in scrambled id order, so the kept prefix spans several sort chunks.
  std::vector<TokenCandidate> candidates;
  for (int32_t i = 0; i < 5000; ++i) candidates.push_back({-0.001f * static_cast<float>((i * 7919) % 5000), i});
  double total = 0.0;
  for (const TokenCandidate& c : candidates) total += std::exp(static_cast<double>(c.logit));
  const std::vector<TokenCandidate> reference_order = sorted_best_first(candidates);
  for (const float p : {0.01f, 0.3f, 0.9f}) {
    size_t expected = 0;
    for (double cumulative = 0.0; cumulative < p * total; ++expected)
      cumulative += std::exp(static_cast<double>(reference_order[expected].logit));
    std::vector<TokenCandidate> kept = candidates;
    keep_top_p(kept, p);
    REQUIRE_MESSAGE(kept.size() == expected, "top_p = " << p << ": kept " << kept.size() << ", expected " << expected);
    CHECK_MESSAGE(ids_of(kept) == ids_of({reference_order.begin(), reference_order.begin() + expected}),
                  "top_p = " << p << ": the kept prefix differs from the fully sorted one");
  }
}

TEST_CASE("top-p keeps at least the best candidate") {
  std::vector<TokenCandidate> candidates = sorted_best_first(from_probabilities({0.3, 0.7}));
  keep_top_p(candidates, 1e-6f);
  CHECK(ids_of(candidates) == std::vector<int32_t>{1});
}

TEST_CASE("min-p drops tokens whose probability is below min_p times the largest") {
  // p = 0.06, 0.4, 0.04, 0.3, 0.2 (p_max = 0.4).
  const std::vector<TokenCandidate> candidates = from_probabilities({0.06, 0.4, 0.04, 0.3, 0.2});

  std::vector<TokenCandidate> loose = candidates;
  keep_min_p(loose, 0.125f);  // threshold 0.05: only 0.04 goes
  CHECK_MESSAGE((ids_of(loose) == std::vector<int32_t>{0, 1, 3, 4}), "expected 0.04 (id 2) dropped, order kept");

  std::vector<TokenCandidate> tight = candidates;
  keep_min_p(tight, 0.6f);  // threshold 0.24: 0.4 and 0.3 stay
  CHECK(sorted_ids_of(tight) == std::vector<int32_t>{1, 3});

  std::vector<TokenCandidate> only_max = candidates;
  keep_min_p(only_max, 1.0f);
  CHECK(ids_of(only_max) == std::vector<int32_t>{1});
}

TEST_CASE("repetition penalty divides positive and multiplies non-positive logits of distinct recent ids") {
  std::vector<TokenCandidate> by_id{{2.0f, 0}, {-1.0f, 1}, {0.5f, 2}, {3.0f, 3}, {0.0f, 4}};
  std::vector<int32_t> scratch;
  // Last 4 entries: 0, 1, 1, 4 → distinct {0, 1, 4}; id 3 is outside the window, id 1 counts once.
  penalize_repeats(by_id, {3, 0, 1, 1, 4}, 2.0f, 4, scratch);
  CHECK_MESSAGE(by_id[0].logit == 1.0f, "2.0 / 2 expected");
  CHECK_MESSAGE(by_id[1].logit == -2.0f, "-1.0 * 2 once, although id 1 repeats");
  CHECK_MESSAGE(by_id[2].logit == 0.5f, "id 2 is not in the history");
  CHECK_MESSAGE(by_id[3].logit == 3.0f, "id 3 is outside the last 4 entries");
  CHECK_MESSAGE(by_id[4].logit == 0.0f, "0 * 2 stays 0");

  std::vector<TokenCandidate> whole{{2.0f, 0}, {3.0f, 1}};
  penalize_repeats(whole, {1, 0}, 2.0f, -1, scratch);
  CHECK_MESSAGE((whole[0].logit == 1.0f && whole[1].logit == 1.5f), "last_n = -1 covers the whole history");
}

TEST_CASE("repetition penalty keeps masked tokens masked and finite logits finite") {
  const float inf = std::numeric_limits<float>::infinity();
  const float huge = std::numeric_limits<float>::max();
  std::vector<TokenCandidate> by_id{{-inf, 0}, {-huge, 1}, {huge, 2}};
  std::vector<int32_t> scratch;
  penalize_repeats(by_id, {0, 1, 2}, 0.5f, 64, scratch);  // a penalty below 1 boosts: huge / 0.5 overflows
  CHECK(by_id[0].logit == -inf);
  CHECK_MESSAGE(by_id[1].logit == -huge / 2, "-huge * 0.5 is an ordinary product");
  CHECK_MESSAGE(by_id[2].logit == huge, "huge / 0.5 is clamped to the largest float");
  penalize_repeats(by_id, {1}, 4.0f, 64, scratch);
  CHECK_MESSAGE(by_id[1].logit == -huge, "-huge / 2 * 4 is clamped to the lowest float");
}

TEST_CASE("repetition penalty refuses a history id outside the vocabulary, naming its position") {
  std::vector<TokenCandidate> by_id{{1.0f, 0}, {1.0f, 1}};
  std::vector<int32_t> scratch;
  CHECK_THROWS_WITH_AS(penalize_repeats(by_id, {0, 7}, 1.1f, 64, scratch), doctest::Contains("history[1] = 7"),
                       Error);
  CHECK_NOTHROW(penalize_repeats(by_id, {7, 0}, 1.1f, 1, scratch));  // outside the window: not read
}

TEST_CASE("draw maps the uniform number onto the cumulative softmax") {
  // Logits log 0.25, log 0.75 at T = 1: u < 0.25 → id 0, otherwise id 1.
  const std::vector<TokenCandidate> candidates = from_probabilities({0.25, 0.75});
  std::vector<double> weights;
  CHECK(draw(candidates, 1.0f, 0.0, weights) == 0);
  CHECK(draw(candidates, 1.0f, 0.2499, weights) == 0);
  CHECK(draw(candidates, 1.0f, 0.2501, weights) == 1);
  CHECK(draw(candidates, 1.0f, std::nextafter(1.0, 0.0), weights) == 1);
  // A tiny temperature makes it greedy without overflowing to NaN.
  CHECK(draw(candidates, 1e-30f, 0.0, weights) == 1);
}

TEST_CASE("uniform_from_bits spans [0, 1) from the top 53 bits") {
  CHECK(uniform_from_bits(0) == 0.0);
  CHECK(uniform_from_bits(~uint64_t{0}) == std::nextafter(1.0, 0.0));
  CHECK(uniform_from_bits(uint64_t{1} << 63) == 0.5);
  CHECK(uniform_from_bits(0x7ff) == 0.0);  // the low 11 bits are ignored
}
