// The clinical labels one generated report states, for the clinical metrics of `ophtha eval`:
// read from its structured report when the prediction has one, else extracted from its text by
// the report component's extractor (ophtha/report_extractor.hpp).
#pragma once
#include <optional>
#include <string>

#include "ophtha/evaluation.hpp"
#include "ophtha/study.hpp"

namespace ophtha::eval_detail {

// The labels, or nullopt with `problem` (one line) saying why they could not be read, e.g.
// "structured: structured report: eyes.OD.grades.icdr: is 7, ...". `from_structured` tells which
// source was used.
std::optional<StudyLabels> prediction_labels(const Prediction& prediction, bool& from_structured, std::string& problem);

}  // namespace ophtha::eval_detail
