#include "sampling/sampler_chain.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ophtha/error.hpp"

namespace ophtha::sampling {

constexpr float kFloatMax = std::numeric_limits<float>::max();

void penalize_repeats(std::vector<TokenCandidate>& by_id, const std::vector<int32_t>& history,
                      float penalty, int32_t last_n, std::vector<int32_t>& distinct_ids) {
  const size_t window = last_n < 0 ? history.size() : std::min(history.size(), static_cast<size_t>(last_n));
  const size_t first = history.size() - window;
  distinct_ids.assign(history.begin() + static_cast<std::ptrdiff_t>(first), history.end());
  for (size_t i = 0; i < distinct_ids.size(); ++i) {
    const int32_t id = distinct_ids[i];
    if (id < 0 || static_cast<size_t>(id) >= by_id.size())
      fail(ErrorCode::InvalidArgument, "history[{}] = {} is not a token id in [0, {})", first + i, id,
           by_id.size());
  }
  std::sort(distinct_ids.begin(), distinct_ids.end());
  distinct_ids.erase(std::unique(distinct_ids.begin(), distinct_ids.end()), distinct_ids.end());
  for (const int32_t id : distinct_ids) {
    float& logit = by_id[static_cast<size_t>(id)].logit;
    if (std::isinf(logit)) continue;  // a masked token stays masked
    // Clamped so that no penalty turns a finite logit into an infinity.
    logit = std::clamp(logit > 0.0f ? logit / penalty : logit * penalty, -kFloatMax, kFloatMax);
  }
}

void keep_top_k(std::vector<TokenCandidate>& candidates, int32_t k) {
  const auto kept = std::min(candidates.size(), static_cast<size_t>(std::max(k, 1)));
  // Heap selection: for k << n it costs about one comparison per candidate (nth_element measured
  // ~5x slower on 32000 logits, its partitions mispredict on this comparator).
  std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(kept), candidates.end(),
                    ranks_before);
  candidates.resize(kept);
}

void keep_top_p(std::vector<TokenCandidate>& candidates, float p) {
  if (candidates.empty()) return;
  float max_logit = candidates.front().logit;
  for (const TokenCandidate& c : candidates) max_logit = std::max(max_logit, c.logit);
  double total = 0.0;
  for (const TokenCandidate& c : candidates) total += std::exp(static_cast<double>(c.logit - max_logit));
  const double target = static_cast<double>(p) * total;
  // Sorts only as far as the prefix reaches: the next best `chunk` of the unsorted rest at a time,
  // growing, so a peaked distribution never pays for sorting the whole vocabulary.
  double cumulative = 0.0;
  size_t sorted = 0;
  for (size_t chunk = 64; sorted < candidates.size(); chunk *= 4) {
    const size_t end = std::min(candidates.size(), sorted + chunk);
    std::partial_sort(candidates.begin() + static_cast<std::ptrdiff_t>(sorted),
                      candidates.begin() + static_cast<std::ptrdiff_t>(end), candidates.end(), ranks_before);
    for (; sorted < end; ++sorted) {
      cumulative += std::exp(static_cast<double>(candidates[sorted].logit - max_logit));
      if (cumulative >= target) {
        candidates.resize(sorted + 1);
        return;
      }
    }
  }
}

void keep_min_p(std::vector<TokenCandidate>& candidates, float min_p) {
  if (candidates.empty()) return;
  float max_logit = candidates.front().logit;
  for (const TokenCandidate& c : candidates) max_logit = std::max(max_logit, c.logit);
  // p_i / p_max = exp(logit_i - max_logit), whatever the normalisation.
  const float threshold = max_logit + std::log(min_p);
  candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                  [threshold](const TokenCandidate& c) { return c.logit < threshold; }),
                   candidates.end());
}

int32_t draw(const std::vector<TokenCandidate>& candidates, float temperature, double u,
             std::vector<double>& weights) {
  float max_logit = candidates.front().logit;
  for (const TokenCandidate& c : candidates) max_logit = std::max(max_logit, c.logit);
  // Subtracting the max before dividing keeps (logit - max) / T <= 0 even for a tiny T: no inf - inf.
  weights.resize(candidates.size());
  double total = 0.0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    weights[i] = std::exp(static_cast<double>(candidates[i].logit - max_logit) / temperature);
    total += weights[i];
  }
  const double target = u * total;
  double cumulative = 0.0;
  size_t last_positive = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (weights[i] <= 0.0) continue;
    cumulative += weights[i];
    last_positive = i;
    if (target < cumulative) return candidates[i].id;
  }
  return candidates[last_positive].id;  // u * total rounded up to the full sum
}

}  // namespace ophtha::sampling
