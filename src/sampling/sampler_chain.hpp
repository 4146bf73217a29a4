// The steps of the sampling chain as free functions over a candidate list, so that the tests can
// check the exact set each filter keeps. Internal to the sampling component; Sampler strings them
// together in llama.cpp's order. None of them allocates beyond the buffers passed in.
#pragma once
#include <cstdint>
#include <vector>

#include "ophtha/sampler.hpp"

namespace ophtha::sampling {

// Higher logit first; equal logits → lower id first, so every order (and every tie) is deterministic.
inline bool ranks_before(const TokenCandidate& a, const TokenCandidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// Applies the CTRL / llama.cpp repetition penalty to `by_id` (candidate i has id i, all n_vocab of
// them): each distinct id among the last `last_n` entries of `history` (-1 → all) gets
// logit / penalty when its logit is > 0 and logit * penalty otherwise, once however often it repeats;
// -inf stays -inf and results are clamped to finite floats.
// `distinct_ids` is scratch. Throws Error(InvalidArgument) for an id in the window outside by_id.
void penalize_repeats(std::vector<TokenCandidate>& by_id, const std::vector<int32_t>& history,
                      float penalty, int32_t last_n, std::vector<int32_t>& distinct_ids);

// Keeps the k best candidates (by ranks_before), sorted best first; k < 1 counts as 1.
void keep_top_k(std::vector<TokenCandidate>& candidates, int32_t k);

// Keeps the shortest run of best candidates (by ranks_before) whose softmax probabilities at
// temperature 1 sum to >= p, sorted best first; at least one candidate survives. Any input order.
void keep_top_p(std::vector<TokenCandidate>& candidates, float p);

// Keeps the candidates whose softmax probability at temperature 1 is >= min_p * p_max, i.e.
// logit >= max_logit + log(min_p). Preserves order.
void keep_min_p(std::vector<TokenCandidate>& candidates, float min_p);

// The candidate's id whose interval of the cumulative softmax(logit / temperature) contains
// u * total, for u in [0, 1). Requires temperature > 0 and at least one finite logit; -inf ones
// are never drawn.
// `weights` is scratch.
int32_t draw(const std::vector<TokenCandidate>& candidates, float temperature, double u,
             std::vector<double>& weights);

// A uniform double in [0, 1) from the top 53 bits of one 64-bit RNG output.
inline double uniform_from_bits(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

}  // namespace ophtha::sampling
