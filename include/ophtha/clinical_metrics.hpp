// Clinical metrics of `ophtha eval`: how well the labels read from generated reports (findings,
// grades, referral) agree with the ground-truth labels of each study, eye by eye. The text metrics
// (ophtha/text_metrics.hpp) say how close the wording is; these say whether the report is right.
// Definitions follow scikit-learn 1.2 (precision_recall_fscore_support with zero_division=0,
// cohen_kappa_score, confusion_matrix, accuracy_score); the tests compare with it on random label
// sets. docs/evaluation.md ("Clinical metrics") gives the definitions with examples.
//
// What is scored, per study and per eye of the reference:
//   - findings: for each finding, over the reference eyes where the finding's modality was imaged
//     and gradable; truth = the reference eye has it, prediction = the predicted eye has it
//     (an eye the prediction leaves out predicts nothing). Findings of other eyes or modalities
//     are not scored.
//   - grades: for each scale, over the reference eyes graded on it; the predicted level, or
//     "not stated" when the predicted eye has no grade on that scale (or is left out).
//   - referral: over every reference eye; the predicted eye's referral, or "not stated".
//   - unexamined: what the prediction states about an (eye, modality) the reference eye was not
//     imaged with — a report describing an examination nobody made — counted, not scored.
// A missing prediction (nullopt) is scored as a report that states nothing, and counted.
//
// Thread safety: pure functions; any thread. Errors: Error(InvalidArgument) when the reference
// and prediction lists differ in length or a level is outside its scale.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "ophtha/export.h"
#include "ophtha/study.hpp"

namespace ophtha {

// Counts of one binary decision (one finding) and the scores they give. Precision, recall and
// F1 are 0 when their denominator is 0 (scikit-learn's zero_division=0).
struct OPHTHA_API BinaryCounts {
  int64_t true_positives = 0;
  int64_t false_positives = 0;
  int64_t false_negatives = 0;
  int64_t true_negatives = 0;

  int64_t support() const { return true_positives + false_negatives; }  // reference positives
  int64_t eyes() const { return true_positives + false_positives + false_negatives + true_negatives; }
  double precision() const;  // TP / (TP + FP)
  double recall() const;     // TP / (TP + FN)
  double f1() const;         // 2 TP / (2 TP + FP + FN)
};

// Agreement on one ordinal or nominal scale (a grading scale, or the referral urgency).
struct OPHTHA_API LevelAgreement {
  int levels = 0;
  bool ordinal = true;  // kappa is quadratically weighted when ordinal, unweighted otherwise
  // (levels, levels + 1): row = reference level, column = predicted level; the last column counts
  // the eyes whose prediction stated no level.
  std::vector<std::vector<int64_t>> confusion;

  int64_t eyes() const;    // eyes with a reference level (the sum of `confusion`)
  int64_t stated() const;  // of these, the eyes with a predicted level
  // Correct / eyes(): an eye with no stated level counts as wrong. NaN when eyes() is 0.
  double accuracy() const;
  // Cohen's kappa over the stated eyes (the square part of `confusion`), quadratic weights
  // (i - j)² when ordinal. NaN when undefined: no stated eye, or chance agreement already perfect
  // (both sides put every eye on one level) — scikit-learn returns NaN there too.
  double kappa() const;
};

struct FindingScores {
  Finding finding;
  BinaryCounts counts;
};

struct ClinicalMetrics {
  std::vector<FindingScores> findings;     // (kFindingCount) in enum order
  double macro_f1 = 0.0;                   // mean F1 over findings with support > 0; NaN when none
  double micro_f1 = 0.0;                   // F1 of the counts summed over all findings
  std::map<GradeScale, LevelAgreement> grades;  // every scale, in enum order
  LevelAgreement referral;                 // over every reference eye; levels routine, soon, urgent

  int64_t studies = 0;              // reference studies scored
  int64_t missing_predictions = 0;  // studies without a prediction (scored as stating nothing)
  int64_t eyes = 0;                 // reference eyes
  int64_t unstated_eyes = 0;        // reference eyes the prediction left out
  int64_t extra_eyes = 0;           // predicted eyes the reference does not have (ignored)
  // Examinations a prediction describes that were not made: (eye, modality) pairs it states — as
  // imaged, or through a finding or grade of that modality — where the reference eye was not
  // imaged with that modality (every pair of an extra eye counts). Not otherwise scored: the
  // findings and grades above are read only where the reference eye was imaged.
  int64_t unexamined = 0;
  int64_t studies_with_unexamined = 0;  // studies whose prediction states at least one
};

// Scores predicted[i] against reference[i] for every i.
OPHTHA_API ClinicalMetrics clinical_metrics(const std::vector<StudyLabels>& reference,
                                            const std::vector<std::optional<StudyLabels>>& predicted);

// Cohen's kappa of a square confusion matrix (rows one rater, columns the other):
// 1 − Σ w·O / Σ w·E with E = outer(row sums, column sums) / total and w = (i − j)² (quadratic)
// or 1 off the diagonal (unweighted). NaN when the total or Σ w·E is 0.
OPHTHA_API double cohen_kappa(const std::vector<std::vector<int64_t>>& confusion, bool quadratic);

// Every figure, for metrics.json: NaN is written as null. Layout in docs/evaluation.md.
OPHTHA_API nlohmann::json to_json(const ClinicalMetrics& metrics);

}  // namespace ophtha
