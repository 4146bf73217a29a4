// Token sampling: turns one step's logits into the next token id.
//
// The chain follows llama.cpp's common default order:
//   repetition penalty → top-k → top-p → min-p → temperature → softmax → seeded draw.
// Top-p and min-p look at the probabilities of the (penalised) logits at temperature 1, as
// llama.cpp's do; temperature only shapes the final draw among the survivors.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "ophtha/export.h"

namespace ophtha {

struct OPHTHA_API SamplerParams {
  float temperature = 0.8f;     // <= 0 → greedy: argmax of the penalised logits, ties → lowest id
  int32_t top_k = 40;           // keep the k highest logits (ties → lower ids first); <= 0 → off
  float top_p = 0.95f;          // keep the shortest most-likely prefix whose probability sum is >= top_p;
                                // must be > 0; >= 1 → off
  float min_p = 0.05f;          // keep tokens with p >= min_p * p_max; must be <= 1; <= 0 → off
  float repeat_penalty = 1.0f;  // CTRL / llama.cpp rule over the distinct ids of the last repeat_last_n
                                // history entries: logit > 0 → logit / penalty, else logit * penalty;
                                // must be > 0; 1 → off (the default, as in llama.cpp)
  int32_t repeat_last_n = 64;   // history window for the penalty; 0 → off; -1 → the whole history
  uint64_t seed = 0;            // seeds std::mt19937_64 (the standard fixes its output on every platform)
};

// One logit and the token id it belongs to; the unit the sampling chain filters and sorts.
struct TokenCandidate {
  float logit;
  int32_t id;
};

// Samples token ids for one generation session. Deterministic: the same seed, params and inputs give
// the same ids on any platform (each non-greedy call takes exactly one 64-bit output of the RNG and
// turns it into a uniform double itself). Not thread-safe: one Sampler per session, used by one
// thread at a time. Reuses its buffers, so calls after the first allocate nothing unless n_vocab or
// the penalty window grows.
class OPHTHA_API Sampler {
 public:
  // Throws Error(InvalidArgument) naming the field when a parameter is out of range
  // (temperature not finite, top_p <= 0 or NaN, min_p > 1 or NaN, repeat_penalty <= 0 or not finite,
  // repeat_last_n < -1).
  explicit Sampler(SamplerParams params);

  // Chooses the next token. `logits` points to n_vocab floats, read only (the caller keeps
  // ownership); `history` holds the ids generated or seen so far, used only for the repetition
  // penalty. Returns an id in [0, n_vocab).
  // Throws Error(InvalidArgument) when n_vocab <= 0 or logits is null, when a logit is NaN or
  // +inf (naming its index), when every logit is -inf, or when a history id inside the penalty
  // window lies outside [0, n_vocab) (naming its position).
  int32_t sample(const float* logits, int32_t n_vocab, const std::vector<int32_t>& history);

  // Restarts the random sequence as if the Sampler had been built with this seed.
  void reseed(uint64_t seed);

  const SamplerParams& params() const { return params_; }

 private:
  SamplerParams params_;
  std::mt19937_64 rng_;
  std::vector<TokenCandidate> candidates_;  // (n_vocab) at the start of a call, then the survivors
  std::vector<int32_t> penalised_ids_;      // (<= repeat_last_n) distinct ids of the penalty window
  std::vector<double> weights_;             // (survivors) exp((logit - max) / temperature)
};

}  // namespace ophtha
