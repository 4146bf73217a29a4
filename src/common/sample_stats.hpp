// Mean and sample standard deviation of repeated measurements (benchmarks, `ophtha bench`).
#pragma once
#include <cmath>
#include <vector>

namespace ophtha {

struct SampleStats {
  double mean = 0;
  double sd = 0;  // sample standard deviation (n − 1); 0 for fewer than two samples
};

inline SampleStats sample_stats(const std::vector<double>& xs) {
  SampleStats s;
  if (xs.empty()) return s;
  for (double x : xs) s.mean += x;
  s.mean /= static_cast<double>(xs.size());
  for (double x : xs) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = xs.size() > 1 ? std::sqrt(s.sd / static_cast<double>(xs.size() - 1)) : 0;
  return s;
}

}  // namespace ophtha
