// Sampler end to end: greedy, determinism per seed, the distribution of draws, the chain's filters
// seen through sample(), and the errors it reports.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/sampler.hpp"

using namespace ophtha;

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Every filter and the penalty off: draws follow softmax(logits / temperature).
SamplerParams plain(float temperature, uint64_t seed = 1) {
  SamplerParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  p.seed = seed;
  return p;
}

std::vector<float> random_logits(int32_t n_vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> logits(static_cast<size_t>(n_vocab));
  for (float& l : logits) l = static_cast<float>(static_cast<double>(rng() >> 40) / (1 << 24) * 20.0 - 10.0);
  return logits;
}

std::vector<int32_t> draw_sequence(Sampler& sampler, const std::vector<float>& logits, int n) {
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(sampler.sample(logits.data(), static_cast<int32_t>(logits.size()), {}));
  return ids;
}

std::set<int32_t> ids_drawn(const SamplerParams& params, const std::vector<float>& logits,
                            const std::vector<int32_t>& history, int n) {
  Sampler sampler(params);
  std::set<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.insert(sampler.sample(logits.data(), static_cast<int32_t>(logits.size()), history));
  return ids;
}

}  // namespace

TEST_CASE("greedy sampling returns the argmax, and the lowest id on ties") {
  Sampler greedy(plain(0.0f));
  const std::vector<float> logits{0.1f, 2.5f, -1.0f, 2.5f, 1.0f};
  CHECK_MESSAGE(greedy.sample(logits.data(), 5, {}) == 1, "ids 1 and 3 tie at 2.5; expected the lower, 1");

  const std::vector<float> large = random_logits(32000, 7);
  const auto argmax = static_cast<int32_t>(std::max_element(large.begin(), large.end()) - large.begin());
  SamplerParams defaults;
  defaults.temperature = -1.0f;
  Sampler greedy_defaults(defaults);
  for (int i = 0; i < 3; ++i) CHECK(greedy_defaults.sample(large.data(), 32000, {}) == argmax);
}

TEST_CASE("greedy sampling sees the repetition penalty") {
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 1.2f;
  Sampler sampler(p);
  const std::vector<float> logits{1.0f, 0.9f};
  CHECK_MESSAGE(sampler.sample(logits.data(), 2, {}) == 0, "no history: argmax 0");
  CHECK_MESSAGE(sampler.sample(logits.data(), 2, {0}) == 1, "1.0 / 1.2 < 0.9: expected id 1");
}

TEST_CASE("the same seed gives the same sequence and a different seed a different one") {
  const std::vector<float> logits = random_logits(32000, 3);
  SamplerParams p;  // defaults: every stage active
  p.top_k = 0;      // leave enough candidates for sequences to differ
  p.min_p = 0.0f;
  p.temperature = 1.5f;
  p.seed = 42;
  Sampler a(p), b(p);
  const std::vector<int32_t> first = draw_sequence(a, logits, 64);
  CHECK(first == draw_sequence(b, logits, 64));

  p.seed = 43;
  Sampler c(p);
  CHECK_MESSAGE(first != draw_sequence(c, logits, 64), "seeds 42 and 43 drew the same 64 ids");

  a.reseed(42);
  CHECK_MESSAGE(first == draw_sequence(a, logits, 64), "reseed(42) should restart the sequence");
  CHECK(a.params().seed == 42);
}

TEST_CASE("the seeded sequence is the same on every platform") {
  // Pinned ids: mt19937_64's output is fixed by the standard and the uniform double is derived from
  // its top 53 bits here, so with equal logits id = floor(u * 4) and these never change.
  const std::vector<float> logits{0.0f, 0.0f, 0.0f, 0.0f};
  Sampler sampler(plain(1.0f, 2024));
  const std::vector<int32_t> expected{2, 3, 1, 1, 0, 0, 3, 2, 0, 2, 2, 2, 3, 2, 0, 0};
  CHECK(draw_sequence(sampler, logits, 16) == expected);
}

TEST_CASE("top_k = 1 picks the same token as greedy") {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::vector<float> logits = random_logits(1000, seed);
    logits[seed * 37] = 50.0f;
    logits[seed * 37 + 5] = 50.0f;  // a tie: both must pick the lower id
    SamplerParams top1;
    top1.top_k = 1;
    top1.seed = seed;
    SamplerParams greedy = top1;
    greedy.temperature = 0.0f;
    const std::vector<int32_t> history{1, 2, 3, static_cast<int32_t>(seed)};
    CHECK(Sampler(top1).sample(logits.data(), 1000, history) == Sampler(greedy).sample(logits.data(), 1000, history));
  }
}

TEST_CASE("20000 draws match softmax(logits / T) within 3 sigma per token") {
  const std::vector<float> logits{1.0f, 0.5f, 0.0f, -0.5f, -1.0f, 2.0f};
  constexpr int kDraws = 20000;
  for (const float temperature : {0.7f, 1.0f, 1.5f}) {
    std::vector<double> expected(logits.size());
    double total = 0.0;
    for (size_t i = 0; i < logits.size(); ++i) total += expected[i] = std::exp(logits[i] / static_cast<double>(temperature));
    for (double& p : expected) p /= total;

    Sampler sampler(plain(temperature, 12345));
    std::vector<int> counts(logits.size(), 0);
    for (int i = 0; i < kDraws; ++i) ++counts[static_cast<size_t>(sampler.sample(logits.data(), 6, {}))];

    double chi_square = 0.0;
    for (size_t i = 0; i < logits.size(); ++i) {
      const double mean = kDraws * expected[i];
      const double sigma = std::sqrt(kDraws * expected[i] * (1.0 - expected[i]));
      chi_square += (counts[i] - mean) * (counts[i] - mean) / mean;
      CHECK_MESSAGE(std::abs(counts[i] - mean) <= 3.0 * sigma,
                    "T = " << temperature << ", id " << i << ": drew " << counts[i] << ", expected " << mean
                           << " +- " << 3.0 * sigma);
    }
    CHECK_MESSAGE(chi_square < 20.52, "chi-square " << chi_square << " over 5 degrees of freedom (p < 0.001)");
  }
}

TEST_CASE("sample draws only from the tokens the filters keep, and from all of them") {
  // p = 0.5, 0.2, 0.15, 0.1, 0.05 at T = 1 (see test_sampler_chain for the exact sets).
  const std::vector<float> logits{std::log(0.2f), std::log(0.1f), std::log(0.05f), std::log(0.5f), std::log(0.15f)};
  SamplerParams p = plain(1.0f);

  p.top_p = 0.75f;
  CHECK(ids_drawn(p, logits, {}, 2000) == std::set<int32_t>{3, 0, 4});

  p.top_p = 1.0f;
  p.min_p = 0.25f;  // p >= 0.125
  CHECK(ids_drawn(p, logits, {}, 2000) == std::set<int32_t>{3, 0, 4});

  p.min_p = 0.0f;
  p.top_k = 2;
  CHECK(ids_drawn(p, logits, {}, 2000) == std::set<int32_t>{3, 0});

  // The penalty acts before the filters: penalising id 3 (0.5 → 0.5^1.5 ≈ 0.35) leaves 0 and 3 in the top 2.
  p.repeat_penalty = 1.5f;
  CHECK(ids_drawn(p, logits, {3}, 2000) == std::set<int32_t>{3, 0});
  // A strong penalty on id 3 pushes it out: top 2 becomes 0 and 4.
  p.repeat_penalty = 5.0f;
  CHECK(ids_drawn(p, logits, {3}, 2000) == std::set<int32_t>{0, 4});
}

TEST_CASE("all logits -inf except one always yields that one") {
  std::vector<float> logits(32000, kNegInf);
  logits[31999] = -3.0f;
  Sampler sampler{SamplerParams{}};
  for (int i = 0; i < 10; ++i) CHECK(sampler.sample(logits.data(), 32000, {31999, 0, 5}) == 31999);
  Sampler greedy(plain(0.0f));
  CHECK(greedy.sample(logits.data(), 32000, {}) == 31999);
  Sampler unfiltered(plain(2.0f));  // no filter removes the masked tokens: the draw must skip them
  for (int i = 0; i < 10; ++i) CHECK(unfiltered.sample(logits.data(), 32000, {}) == 31999);
}

TEST_CASE("sample refuses NaN and +inf logits naming the index, all -inf, and a bad vocabulary size") {
  Sampler sampler{SamplerParams{}};
  std::vector<float> logits(10, 0.0f);
  logits[7] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(sampler.sample(logits.data(), 10, {}), doctest::Contains("logits[7]"), Error);
  logits[7] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH_AS(sampler.sample(logits.data(), 10, {}), doctest::Contains("logits[7]"), Error);

  const std::vector<float> all_masked(4, kNegInf);
  CHECK_THROWS_WITH_AS(sampler.sample(all_masked.data(), 4, {}), doctest::Contains("-inf"), Error);
  CHECK_THROWS_WITH_AS(sampler.sample(all_masked.data(), 0, {}), doctest::Contains("n_vocab"), Error);
  CHECK_THROWS_WITH_AS(sampler.sample(all_masked.data(), -5, {}), doctest::Contains("n_vocab"), Error);
  CHECK_THROWS_WITH_AS(sampler.sample(nullptr, 4, {}), doctest::Contains("null"), Error);

  const std::vector<float> fine(4, 0.0f);
  SamplerParams penalised;
  penalised.repeat_penalty = 1.1f;  // the history is read only while the penalty is on
  Sampler with_penalty{penalised};
  CHECK_THROWS_WITH_AS(with_penalty.sample(fine.data(), 4, {0, 9}), doctest::Contains("history[1] = 9"), Error);
  try {
    sampler.sample(fine.data(), 0, {});
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::InvalidArgument);
  }
}

TEST_CASE("the constructor refuses out-of-range parameters, naming the field") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto with = [](auto change) {
    SamplerParams p;
    change(p);
    return p;
  };
  CHECK_THROWS_WITH_AS(Sampler(with([&](SamplerParams& p) { p.temperature = nan; })),
                       doctest::Contains("temperature"), Error);
  CHECK_THROWS_WITH_AS(Sampler(with([](SamplerParams& p) { p.temperature = INFINITY; })),
                       doctest::Contains("temperature"), Error);
  CHECK_THROWS_WITH_AS(Sampler(with([](SamplerParams& p) { p.top_p = 0.0f; })), doctest::Contains("top_p"), Error);
  CHECK_THROWS_WITH_AS(Sampler(with([&](SamplerParams& p) { p.top_p = nan; })), doctest::Contains("top_p"), Error);
  CHECK_THROWS_WITH_AS(Sampler(with([](SamplerParams& p) { p.min_p = 1.5f; })), doctest::Contains("min_p"), Error);
  CHECK_THROWS_WITH_AS(Sampler(with([](SamplerParams& p) { p.repeat_penalty = 0.0f; })),
                       doctest::Contains("repeat_penalty"), Error);
  CHECK_THROWS_WITH_AS(Sampler(with([](SamplerParams& p) { p.repeat_penalty = INFINITY; })),
                       doctest::Contains("repeat_penalty"), Error);
  CHECK_THROWS_WITH_AS(Sampler(with([](SamplerParams& p) { p.repeat_last_n = -2; })),
                       doctest::Contains("repeat_last_n"), Error);

  // The "off" values are all accepted.
  CHECK_NOTHROW(Sampler(with([](SamplerParams& p) {
    p.temperature = 0.0f;
    p.top_k = 0;
    p.top_p = 1.5f;
    p.min_p = -1.0f;
    p.repeat_penalty = 1.0f;
    p.repeat_last_n = -1;
  })));
}
