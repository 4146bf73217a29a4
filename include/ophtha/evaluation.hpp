// `ophtha eval`: generated reports (a predictions file) scored against a study manifest — text
// metrics per language (ophtha/text_metrics.hpp) against the reference reports, clinical metrics
// (ophtha/clinical_metrics.hpp) on the labels each generated report states — and the outputs:
// metrics.json with every figure, summary.md, PNG plots. docs/evaluation.md describes the command.
//
// Predictions file: JSON Lines, one generated report per line:
//   {"id": "syn-000001", "lang": "en", "report": "...", "structured": {...}}
//   id      a study id of the manifest (required)
//   lang    "zh" or "en"; optional: when absent, the --lang of the run, else "zh" when the report
//           holds a CJK ideograph and "en" otherwise
//   report  the generated text (required; may be empty)
//   structured  optional: the structured report (ophtha/structured_report.hpp); when present the
//           clinical labels are read from it (labels_from_structured_report), otherwise from the
//           text (extract_labels_from_text, ophtha/report_extractor.hpp)
// Nothing is dropped silently: malformed lines, ids the manifest does not have, studies of another
// split, repeated (id, lang) pairs and studies without a prediction are counted, and every such
// line is listed in `problems` as "FILE:LINE: FIELD: what was wrong, expected ...".
// Missing predictions are scored as empty reports (text metrics 0, no findings, nothing stated).
//
// Thread safety: pure functions over their arguments; any thread. Errors: Error(Io) when a file
// cannot be read or written; read_manifest's errors for the manifest.
#pragma once
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ophtha/clinical_metrics.hpp"
#include "ophtha/export.h"
#include "ophtha/manifest.hpp"
#include "ophtha/text_metrics.hpp"

namespace ophtha {

struct Prediction {
  std::string id;
  std::string lang;                         // "zh" or "en" (decided as above)
  std::string report;
  std::optional<nlohmann::json> structured;  // the structured report, when the line has one
  size_t line = 0;                          // 1-based line in the predictions file
};

struct PredictionFile {
  std::string path;
  std::vector<Prediction> predictions;  // the well-formed lines, in file order
  std::vector<std::string> malformed;   // "FILE:LINE: FIELD: ..." for each line that was not
  size_t lines = 0;                     // non-blank lines read
};

// Reads every line; a malformed line is listed in `malformed`, never thrown. `default_lang` ("" for
// none) is the language of lines without "lang". Error(Io) when the file cannot be read.
OPHTHA_API PredictionFile read_predictions(const std::string& path, const std::string& default_lang);

struct EvaluationOptions {
  std::string lang;            // "zh" or "en": score only that language; "" = every language present
  std::string split = "test";  // "train", "val", "test" or "all"
  BleuOptions bleu;            // smoothing: nltk's method0 (none) unless chosen
};

// The scores of one language.
struct LanguageEvaluation {
  std::string lang;
  size_t studies = 0;             // studies of the split
  size_t predicted = 0;           // of these, studies with a prediction in this language
  std::vector<std::string> missing_ids;  // studies without one (scored as empty reports)
  size_t text_scored = 0;         // studies with a reference report in this language (text metrics)
  std::vector<std::string> no_reference_ids;  // studies without one (left out of the text metrics)
  BleuScores bleu{};              // BLEU-1..4, corpus level
  double rouge_l = 0, cider_d = 0, meteor = 0;  // corpus means
  ClinicalMetrics clinical;       // over every study of the split
  size_t labels_from_structured = 0, labels_from_text = 0;
  std::vector<std::string> extraction_problems;  // "FILE:LINE: ..." where labels could not be read
  // Findings a report both states and denies for one eye (read_report of its text), summed over the
  // scored reports, and the studies whose report has any. Not otherwise scored: the labels count
  // such a finding as stated.
  size_t contradictions = 0;
  std::vector<std::string> contradicting_ids;
  // Eyes a report gives two different vertical C/D values (read_report cup_disc_conflicts), summed,
  // and the studies whose report has any. Not otherwise scored: the labels keep the last value.
  size_t cup_disc_conflicts = 0;
  std::vector<std::string> cup_disc_conflicting_ids;
  // Eyes a report refers, and eyes it gives a follow-up interval, otherwise than its own labels for
  // the eye imply (read_report referral_conflicts: "severe NPDR" with "refer within 3 months";
  // follow_up_conflicts: with "Review in 6 months"), each summed, and the studies whose report has
  // either. The referral is scored as stated; the reference reports have none.
  size_t referral_conflicts = 0, follow_up_conflicts = 0;
  std::vector<std::string> recommendation_conflicting_ids;
  // Grades a report's text leaves to its findings (read_report implied_grades: a gradable CFP or
  // OCT with no ICDR, AREDS, Kermany class or OCT AMD stage in words), (eye, scale) pairs summed,
  // and the studies whose report has any. The labels still hold the implied level; the reference
  // reports state every grade.
  size_t implied_grades = 0;
  std::vector<std::string> implied_grade_ids;
  // Findings a report names again for an eye after their first mention (read_report), summed, and
  // the studies whose report has any. The reference reports have none.
  size_t repetitions = 0;
  std::vector<std::string> repeating_ids;
  // Grades a report states again for an eye in a line that already stated them (read_report
  // grade_repetitions: "AREDS category 4; ICDR PDR; AREDS category 4."), summed, and the studies
  // whose report has any. The reference reports have none.
  size_t grade_repetitions = 0;
  std::vector<std::string> grade_repeating_ids;
};

struct EvaluationResult {
  std::string manifest_path, predictions_path, split;
  BleuOptions bleu;
  size_t studies_in_split = 0;
  size_t prediction_lines = 0;   // non-blank lines of the predictions file
  size_t malformed_lines = 0;
  size_t unknown_ids = 0;        // ids not in the manifest
  size_t outside_split = 0;      // ids of studies in another split (not scored)
  size_t other_language = 0;     // lines in a language the run does not score
  size_t duplicates = 0;         // a second line for the same (id, lang): ignored
  std::vector<std::string> problems;  // every line behind the counts above, "FILE:LINE: ..."
  std::map<std::string, LanguageEvaluation> languages;
};

// Scores the predictions against the manifest's studies of options.split.
// Error(InvalidArgument) for an unknown split or language in `options`.
OPHTHA_API EvaluationResult evaluate(const Manifest& manifest, const PredictionFile& predictions,
                                     const EvaluationOptions& options);

// Every figure as JSON (NaN as null); layout in docs/evaluation.md.
OPHTHA_API nlohmann::json to_json(const EvaluationResult& result);
// Markdown tables: counts, text metrics per language, clinical metrics per language.
OPHTHA_API std::string summary_markdown(const EvaluationResult& result);
// Writes DIR/metrics.json, DIR/summary.md and the plots (DIR/<lang>_findings_f1.png,
// DIR/<lang>_confusion_<scale>.png for each scale with graded eyes, DIR/<lang>_confusion_referral.png),
// each atomically; creates DIR. Returns the paths written. Error(Io) on a file-system failure.
OPHTHA_API std::vector<std::string> write_evaluation(const std::string& dir, const EvaluationResult& result);

}  // namespace ophtha
