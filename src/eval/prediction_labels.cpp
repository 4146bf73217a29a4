// Labels of a prediction: its structured report when it has one (labels_from_structured_report),
// its text otherwise (extract_labels_from_text) — prediction_labels.hpp.
#include "eval/prediction_labels.hpp"

#include "ophtha/error.hpp"
#include "ophtha/report_extractor.hpp"
#include "ophtha/structured_report.hpp"

namespace ophtha::eval_detail {

namespace {

// The readers list their problems on several lines; a problem here is one line.
std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n') c = ' ';
  return text;
}

}  // namespace

std::optional<StudyLabels> prediction_labels(const Prediction& prediction, bool& from_structured, std::string& problem) {
  from_structured = prediction.structured.has_value();
  try {
    if (from_structured) return labels_from_structured_report(*prediction.structured);
    return extract_labels_from_text(prediction.report, prediction.lang);
  } catch (const Error& e) {
    problem = one_line(std::string(from_structured ? "structured: " : "report: ") + e.what());
    return std::nullopt;
  }
}

}  // namespace ophtha::eval_detail
