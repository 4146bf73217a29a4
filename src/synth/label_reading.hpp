// How the renderers read an eye's labels: grades checked against their scale, gradability.
#pragma once
#include <algorithm>

#include "ophtha/error.hpp"
#include "ophtha/study.hpp"

namespace ophtha::synth_detail {

// The eye's grade on `scale`, or `fallback` when it has none. Error(InvalidArgument) when the
// grade lies outside the scale.
inline int grade_or(const EyeLabels& labels, GradeScale scale, int fallback) {
  const auto it = labels.grades.find(scale);
  if (it == labels.grades.end()) return fallback;
  const GradeScaleInfo& info = grade_scale_info(scale);
  if (it->second < 0 || it->second >= info.levels)
    fail(ErrorCode::InvalidArgument, "render: grade {} = {} is out of range 0..{}", info.code, it->second,
         info.levels - 1);
  return it->second;
}

inline bool is_ungradable(const EyeLabels& labels, Modality modality) {
  return std::find(labels.ungradable.begin(), labels.ungradable.end(), modality) != labels.ungradable.end();
}

}  // namespace ophtha::synth_detail
