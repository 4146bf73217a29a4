#include "ophtha/report_consensus.hpp"

#include <algorithm>
#include <iterator>

#include "ophtha/error.hpp"

namespace ophtha {
namespace {

double findings_f1(const std::vector<Finding>& a, const std::vector<Finding>& b) {
  if (a.empty() && b.empty()) return 1.0;
  std::vector<Finding> x = a, y = b, both;
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  x.erase(std::unique(x.begin(), x.end()), x.end());
  y.erase(std::unique(y.begin(), y.end()), y.end());
  std::set_intersection(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(both));
  return 2.0 * static_cast<double>(both.size()) / static_cast<double>(x.size() + y.size());
}

double eye_agreement(const EyeLabels& a, const EyeLabels& b) {
  double score = findings_f1(a.findings, b.findings);
  for (const auto& [scale, level] : a.grades) {
    const auto other = b.grades.find(scale);
    if (other != b.grades.end() && other->second == level) score += 1.0;
  }
  return score;
}

}  // namespace

double label_agreement(const StudyLabels& a, const StudyLabels& b) {
  static const EyeLabels kNone;
  double score = 0.0;
  for (const auto& [eye, labels] : a.eyes) {
    const auto other = b.eyes.find(eye);
    score += eye_agreement(labels, other == b.eyes.end() ? kNone : other->second);
  }
  for (const auto& [eye, labels] : b.eyes)
    if (!a.eyes.count(eye)) score += eye_agreement(kNone, labels);
  return score;
}

size_t consensus_choice(const std::vector<StudyLabels>& drafts) {
  if (drafts.empty()) fail(ErrorCode::InvalidArgument, "consensus_choice: no drafts to choose from");
  const size_t n = drafts.size();
  std::vector<double> support(n, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      const double agreement = label_agreement(drafts[i], drafts[j]);
      support[i] += agreement;
      support[j] += agreement;
    }
  return static_cast<size_t>(std::max_element(support.begin(), support.end()) - support.begin());
}

}  // namespace ophtha
