#include "ophtha/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ophtha/error.hpp"
#include "sampling/sampler_chain.hpp"

namespace ophtha {
namespace {

constexpr float kInfinity = std::numeric_limits<float>::infinity();

void validate(const SamplerParams& p) {
  if (!std::isfinite(p.temperature))
    fail(ErrorCode::InvalidArgument, "temperature must be finite (<= 0 means greedy), got {}", p.temperature);
  if (!(p.top_p > 0.0f)) fail(ErrorCode::InvalidArgument, "top_p must be > 0 (>= 1 turns it off), got {}", p.top_p);
  if (std::isnan(p.min_p) || p.min_p > 1.0f)
    fail(ErrorCode::InvalidArgument, "min_p must be <= 1 (<= 0 turns it off), got {}", p.min_p);
  if (!(p.repeat_penalty > 0.0f) || std::isinf(p.repeat_penalty))
    fail(ErrorCode::InvalidArgument, "repeat_penalty must be finite and > 0 (1 turns it off), got {}",
         p.repeat_penalty);
  if (p.repeat_last_n < -1)
    fail(ErrorCode::InvalidArgument, "repeat_last_n must be >= -1 (-1: whole history, 0: off), got {}",
         p.repeat_last_n);
}

}  // namespace

Sampler::Sampler(SamplerParams params) : params_(params), rng_(params.seed) { validate(params_); }

void Sampler::reseed(uint64_t seed) {
  params_.seed = seed;
  rng_.seed(seed);
}

int32_t Sampler::sample(const float* logits, int32_t n_vocab, const std::vector<int32_t>& history) {
  if (n_vocab <= 0) fail(ErrorCode::InvalidArgument, "n_vocab must be > 0, got {}", n_vocab);
  if (logits == nullptr) fail(ErrorCode::InvalidArgument, "logits is null (n_vocab = {})", n_vocab);

  candidates_.resize(static_cast<size_t>(n_vocab));
  float max_logit = -kInfinity;
  for (int32_t id = 0; id < n_vocab; ++id) {
    const float logit = logits[id];
    if (!(logit < kInfinity))  // NaN or +inf
      fail(ErrorCode::InvalidArgument, "logits[{}] is {}; logits must be finite or -inf", id, logit);
    max_logit = std::max(max_logit, logit);
    candidates_[static_cast<size_t>(id)] = {logit, id};
  }
  if (max_logit == -kInfinity) fail(ErrorCode::InvalidArgument, "all {} logits are -inf", n_vocab);
  // -inf (masked) candidates stay in the list: every step below gives them probability 0.
  if (params_.repeat_penalty != 1.0f && params_.repeat_last_n != 0)
    sampling::penalize_repeats(candidates_, history, params_.repeat_penalty, params_.repeat_last_n,
                               penalised_ids_);

  if (params_.temperature <= 0.0f)
    return std::min_element(candidates_.begin(), candidates_.end(), sampling::ranks_before)->id;

  if (params_.top_k > 0) sampling::keep_top_k(candidates_, params_.top_k);
  if (params_.top_p < 1.0f) sampling::keep_top_p(candidates_, params_.top_p);
  if (params_.min_p > 0.0f) sampling::keep_min_p(candidates_, params_.min_p);
  return sampling::draw(candidates_, params_.temperature, sampling::uniform_from_bits(rng_()), weights_);
}

}  // namespace ophtha
