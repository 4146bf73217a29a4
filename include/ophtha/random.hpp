// A small, fast, seedable random generator whose streams are the same on every platform and
// standard library (std::uniform_*_distribution are not), so that a seed names one dataset:
// synthetic studies, report wording and training shuffles are reproducible anywhere.
//
// SplitMix64 seeds a xoshiro256** state (Blackman & Vigna); `fork(tag)` derives an independent
// stream for a sub-task (one study, one image) from the parent seed and a tag, so work can be
// split over threads without changing the result.
//
// Thread safety: a Random is a value; one thread at a time per object.
#pragma once
#include <cmath>
#include <cstdint>

namespace ophtha {

class Random {
 public:
  explicit Random(uint64_t seed = 0) : seed_(seed) {
    uint64_t x = seed;
    for (uint64_t& s : state_) s = splitmix64(x);
  }

  // An independent stream for sub-task `tag` (e.g. the study index).
  Random fork(uint64_t tag) const {
    uint64_t x = seed_ ^ (0x9E3779B97F4A7C15ull * (tag + 1));
    return Random(splitmix64(x));
  }

  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [lo, hi] (inclusive), unbiased (rejection).
  int64_t integer(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    if (span == 0) return static_cast<int64_t>(next());  // the whole 64-bit range
    const uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t r;
    do r = next();
    while (r >= limit);
    return lo + static_cast<int64_t>(r % span);
  }
  bool chance(double p) { return uniform() < p; }
  // Standard normal (Box–Muller; one value per call, the pair's second is dropped for simplicity).
  double normal(double mean = 0.0, double sd = 1.0) {
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // Index in [0, n) with probability proportional to weights[i] (n ≥ 1, weights ≥ 0, sum > 0).
  template <typename Weights>
  size_t pick(const Weights& weights) {
    double total = 0;
    for (double w : weights) total += w;
    double r = uniform() * total;
    size_t i = 0;
    for (double w : weights) {
      if (r < w) return i;
      r -= w;
      ++i;
    }
    return i - 1;
  }

 private:
  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t seed_;
  uint64_t state_[4];
};

}  // namespace ophtha
