// Findings, grades and referral of predicted labels against the reference, eye by eye
// (ophtha/clinical_metrics.hpp).
#include "ophtha/clinical_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ophtha/error.hpp"

namespace ophtha {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double ratio(int64_t num, int64_t den) { return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den); }

LevelAgreement empty_agreement(int levels, bool ordinal) {
  LevelAgreement a;
  a.levels = levels;
  a.ordinal = ordinal;
  a.confusion.assign(static_cast<size_t>(levels), std::vector<int64_t>(static_cast<size_t>(levels) + 1, 0));
  return a;
}

// Adds one eye: `predicted` < 0 means no level was stated.
void add(LevelAgreement& a, int reference, int predicted, const char* what) {
  if (reference < 0 || reference >= a.levels || predicted >= a.levels)
    fail(ErrorCode::InvalidArgument, "{}: level reference {} / predicted {} outside 0..{}", what, reference, predicted,
         a.levels - 1);
  a.confusion[static_cast<size_t>(reference)][static_cast<size_t>(predicted < 0 ? a.levels : predicted)] += 1;
}

}  // namespace

double BinaryCounts::precision() const { return ratio(true_positives, true_positives + false_positives); }
double BinaryCounts::recall() const { return ratio(true_positives, true_positives + false_negatives); }
double BinaryCounts::f1() const {
  return ratio(2 * true_positives, 2 * true_positives + false_positives + false_negatives);
}

int64_t LevelAgreement::eyes() const {
  int64_t n = 0;
  for (const auto& row : confusion)
    for (int64_t c : row) n += c;
  return n;
}

int64_t LevelAgreement::stated() const {
  int64_t unstated = 0;
  for (const auto& row : confusion) unstated += row.back();
  return eyes() - unstated;
}

double LevelAgreement::accuracy() const {
  int64_t correct = 0;
  for (int i = 0; i < levels; ++i) correct += confusion[static_cast<size_t>(i)][static_cast<size_t>(i)];
  const int64_t n = eyes();
  return n == 0 ? kNaN : static_cast<double>(correct) / static_cast<double>(n);
}

double LevelAgreement::kappa() const {
  std::vector<std::vector<int64_t>> square(static_cast<size_t>(levels));
  for (int i = 0; i < levels; ++i)
    square[static_cast<size_t>(i)].assign(confusion[static_cast<size_t>(i)].begin(),
                                          confusion[static_cast<size_t>(i)].begin() + levels);
  return cohen_kappa(square, ordinal);
}

double cohen_kappa(const std::vector<std::vector<int64_t>>& confusion, bool quadratic) {
  const size_t n = confusion.size();
  std::vector<double> rows(n, 0.0), cols(n, 0.0);
  double total = 0.0;
  for (size_t i = 0; i < n; ++i) {
    if (confusion[i].size() != n)
      fail(ErrorCode::InvalidArgument, "cohen_kappa: row {} has {} entries, expected {} (a square matrix)", i,
           confusion[i].size(), n);
    for (size_t j = 0; j < n; ++j) {
      const double c = static_cast<double>(confusion[i][j]);
      rows[i] += c;
      cols[j] += c;
      total += c;
    }
  }
  if (total == 0.0) return kNaN;
  // scikit-learn: k = Σ w·O / Σ w·E with E = outer(rows, cols) / total; kappa = 1 − k.
  double observed = 0.0, expected = 0.0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      const double d = static_cast<double>(i) - static_cast<double>(j);
      const double w = quadratic ? d * d : (i == j ? 0.0 : 1.0);
      observed += w * static_cast<double>(confusion[i][j]);
      expected += w * rows[i] * cols[j] / total;
    }
  if (expected == 0.0) return kNaN;
  return 1.0 - observed / expected;
}

ClinicalMetrics clinical_metrics(const std::vector<StudyLabels>& reference,
                                 const std::vector<std::optional<StudyLabels>>& predicted) {
  if (reference.size() != predicted.size())
    fail(ErrorCode::InvalidArgument, "clinical_metrics: {} reference studies but {} predictions, expected one each",
         reference.size(), predicted.size());
  ClinicalMetrics m;
  for (int f = 0; f < kFindingCount; ++f) m.findings.push_back({static_cast<Finding>(f), {}});
  for (int s = 0; s < kGradeScaleCount; ++s) {
    const GradeScaleInfo& info = grade_scale_info(static_cast<GradeScale>(s));
    m.grades[static_cast<GradeScale>(s)] = empty_agreement(info.levels, info.ordinal);
  }
  m.referral = empty_agreement(kReferralCount, true);

  const StudyLabels nothing;
  for (size_t i = 0; i < reference.size(); ++i) {
    ++m.studies;
    if (!predicted[i]) ++m.missing_predictions;
    const StudyLabels& pred = predicted[i] ? *predicted[i] : nothing;
    int64_t unexamined = 0;
    for (const auto& [eye, pred_eye] : pred.eyes) {
      const auto ref = reference[i].eyes.find(eye);
      m.extra_eyes += ref == reference[i].eyes.end();
      unexamined += static_cast<int64_t>(
          unexamined_modalities(pred_eye, ref == reference[i].eyes.end() ? nullptr : &ref->second).size());
    }
    m.unexamined += unexamined;
    m.studies_with_unexamined += unexamined > 0;
    for (const auto& [eye, ref] : reference[i].eyes) {
      ++m.eyes;
      auto it = pred.eyes.find(eye);
      const EyeLabels* guess = it == pred.eyes.end() ? nullptr : &it->second;
      if (!guess) ++m.unstated_eyes;
      auto gradable = [&ref](Modality mod) {
        auto in = [mod](const std::vector<Modality>& l) { return std::find(l.begin(), l.end(), mod) != l.end(); };
        return in(ref.imaged) && !in(ref.ungradable);
      };
      for (FindingScores& scores : m.findings) {
        if (!gradable(finding_modality(scores.finding))) continue;
        const bool truth = ref.has(scores.finding);
        const bool said = guess && guess->has(scores.finding);
        BinaryCounts& c = scores.counts;
        (truth ? (said ? c.true_positives : c.false_negatives) : (said ? c.false_positives : c.true_negatives)) += 1;
      }
      for (const auto& [scale, level] : ref.grades) {
        int stated = -1;
        if (guess)
          if (auto g = guess->grades.find(scale); g != guess->grades.end()) stated = g->second;
        add(m.grades.at(scale), level, stated, grade_scale_info(scale).code);
      }
      add(m.referral, static_cast<int>(ref.referral), guess ? static_cast<int>(guess->referral) : -1, "referral");
    }
  }

  BinaryCounts pooled;
  double f1_sum = 0.0;
  int with_support = 0;
  for (const FindingScores& s : m.findings) {
    pooled.true_positives += s.counts.true_positives;
    pooled.false_positives += s.counts.false_positives;
    pooled.false_negatives += s.counts.false_negatives;
    pooled.true_negatives += s.counts.true_negatives;
    if (s.counts.support() > 0) {
      f1_sum += s.counts.f1();
      ++with_support;
    }
  }
  m.micro_f1 = pooled.f1();
  m.macro_f1 = with_support == 0 ? kNaN : f1_sum / with_support;
  return m;
}

namespace {

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json agreement_json(const LevelAgreement& a, const char* const* names) {
  nlohmann::json level_names = nlohmann::json::array();
  for (int i = 0; i < a.levels; ++i) level_names.push_back(names[i]);
  return {{"levels", level_names},
          {"ordinal", a.ordinal},
          {"kappa_weights", a.ordinal ? "quadratic" : "none"},
          {"eyes", a.eyes()},
          {"stated", a.stated()},
          {"accuracy", number(a.accuracy())},
          {"kappa", number(a.kappa())},
          {"confusion", a.confusion}};
}

}  // namespace

nlohmann::json to_json(const ClinicalMetrics& m) {
  nlohmann::json findings = nlohmann::json::object();
  for (const FindingScores& s : m.findings) {
    const BinaryCounts& c = s.counts;
    findings[finding_code(s.finding)] = {{"modality", modality_name(finding_modality(s.finding))},
                                         {"eyes", c.eyes()},
                                         {"support", c.support()},
                                         {"true_positives", c.true_positives},
                                         {"false_positives", c.false_positives},
                                         {"false_negatives", c.false_negatives},
                                         {"true_negatives", c.true_negatives},
                                         {"precision", c.precision()},
                                         {"recall", c.recall()},
                                         {"f1", c.f1()}};
  }
  nlohmann::json grades = nlohmann::json::object();
  for (const auto& [scale, a] : m.grades) {
    const GradeScaleInfo& info = grade_scale_info(scale);
    grades[info.code] = agreement_json(a, info.level_names);
    grades[info.code]["modality"] = modality_name(info.modality);
  }
  static const char* const kReferralNames[] = {"routine", "soon", "urgent"};
  return {{"studies", m.studies},
          {"missing_predictions", m.missing_predictions},
          {"eyes", m.eyes},
          {"unstated_eyes", m.unstated_eyes},
          {"extra_eyes", m.extra_eyes},
          {"unexamined", m.unexamined},
          {"studies_with_unexamined", m.studies_with_unexamined},
          {"findings", findings},
          {"macro_f1", number(m.macro_f1)},
          {"micro_f1", m.micro_f1},
          {"grades", grades},
          {"referral", agreement_json(m.referral, kReferralNames)}};
}

}  // namespace ophtha
