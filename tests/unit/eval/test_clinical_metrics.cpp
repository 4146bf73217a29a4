// Clinical metrics (ophtha/clinical_metrics.hpp) against scikit-learn: random reference labels and
// perturbed predictions are written as label JSON, tests/tools/clinical_metrics_reference.py scores
// them with sklearn, and every figure must agree within 1e-12.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ophtha/clinical_metrics.hpp"
#include "ophtha/study_json.hpp"
#include "support/expect_error.hpp"
#include "unit/study/random_studies.hpp"

namespace {

using nlohmann::json;
using namespace ophtha;

constexpr double kTolerance = 1e-12;

// A prediction that is the reference with noise: eyes dropped or added, findings flipped (also of
// modalities not imaged), grades dropped, shifted or replaced, referrals replaced.
std::optional<StudyLabels> perturbed(const StudyLabels& reference, Random& rng, double noise) {
  if (rng.chance(0.05)) return std::nullopt;
  StudyLabels out;
  for (const auto& [eye, ref] : reference.eyes) {
    if (rng.chance(0.05)) continue;
    EyeLabels guess;
    for (int f = 0; f < kFindingCount; ++f)
      if (ref.has(static_cast<Finding>(f)) != rng.chance(noise)) guess.findings.push_back(static_cast<Finding>(f));
    for (const auto& [scale, level] : ref.grades) {
      const int levels = grade_scale_info(scale).levels;
      if (rng.chance(noise / 2)) continue;
      int g = level;
      if (rng.chance(noise)) g = std::clamp(level + (rng.chance(0.5) ? 1 : -1), 0, levels - 1);
      if (rng.chance(noise / 3)) g = static_cast<int>(rng.integer(0, levels - 1));
      guess.grades[scale] = g;
    }
    guess.referral = rng.chance(noise) ? static_cast<Referral>(rng.integer(0, 2)) : ref.referral;
    out.eyes[eye] = guess;
  }
  if (reference.eyes.size() == 1 && rng.chance(0.05)) {
    const Eye other = reference.eyes.begin()->first == Eye::OD ? Eye::OS : Eye::OD;
    out.eyes[other] = test::random_eye_labels(rng, {Modality::Cfp});
  }
  return out;
}

struct LabelSet {
  std::vector<StudyLabels> reference;
  std::vector<std::optional<StudyLabels>> predicted;
};

// sklearn's figures for each label set, in one Python run.
json sklearn_reference(const std::vector<LabelSet>& sets) {
  json input = {{"finding_modalities", json::object()}, {"label_sets", json::array()}};
  for (int f = 0; f < kFindingCount; ++f)
    input["finding_modalities"][finding_code(static_cast<Finding>(f))] =
        modality_name(finding_modality(static_cast<Finding>(f)));
  for (const LabelSet& set : sets) {
    json studies = json::array();
    for (size_t i = 0; i < set.reference.size(); ++i)
      studies.push_back({{"reference", to_json(set.reference[i])},
                         {"predicted", set.predicted[i] ? to_json(*set.predicted[i]) : json(nullptr)}});
    input["label_sets"].push_back(std::move(studies));
  }
  const std::filesystem::path folder = std::filesystem::path(OPHTHA_TEST_WORK_DIR) / "clinical-metrics";
  std::filesystem::create_directories(folder);
  const auto in = folder / "labels.json", out = folder / "sklearn.json";
  std::ofstream(in) << input.dump();
  const char* python = std::getenv("OPHTHA_PYTHON");
  const std::string command = std::string("'") + (python ? python : "/usr/bin/python3") + "' '" + OPHTHA_SOURCE_DIR +
                              "/tests/tools/clinical_metrics_reference.py' '" + in.string() + "' '" + out.string() + "'";
  REQUIRE_MESSAGE(std::system(command.c_str()) == 0, "the sklearn reference failed (needs python3-sklearn): ", command);
  std::ifstream result(out);
  return json::parse(result);
}

void check_close(double ours, const json& theirs, const std::string& what) {
  if (theirs.is_null()) {
    CHECK_MESSAGE(std::isnan(ours), what, ": ours ", ours, ", sklearn undefined (NaN)");
  } else {
    CHECK_MESSAGE(std::fabs(ours - theirs.get<double>()) <= kTolerance, what, ": ours ", ours, ", sklearn ", theirs.dump());
  }
}

void check_agreement(const LevelAgreement& ours, const json& theirs, const std::string& what) {
  CHECK_MESSAGE(ours.eyes() == theirs.at("eyes").get<int64_t>(), what, ": eyes");
  CHECK_MESSAGE(ours.eyes() - ours.stated() == theirs.at("unstated").get<int64_t>(), what, ": not stated");
  check_close(ours.accuracy(), theirs.at("accuracy"), what + " accuracy");
  check_close(ours.kappa(), theirs.at("kappa"), what + " kappa");
  for (int i = 0; i < ours.levels; ++i)
    for (int j = 0; j < ours.levels; ++j)
      CHECK_MESSAGE(ours.confusion[i][j] == theirs.at("confusion")[i][j].get<int64_t>(), what, ": confusion[", i, "][", j, "]");
}

}  // namespace

TEST_CASE("findings, grades and referral scores equal scikit-learn's on random label sets") {
  Random rng(2024);
  std::vector<LabelSet> sets(16);
  for (size_t trial = 0; trial < sets.size(); ++trial) {
    const int n = trial < 4 ? static_cast<int>(rng.integer(1, 4)) : static_cast<int>(rng.integer(20, 250));
    const double noise = rng.uniform(0.0, 0.4);
    for (int i = 0; i < n; ++i) {
      sets[trial].reference.push_back(test::random_study(rng, "s").labels);
      sets[trial].predicted.push_back(perturbed(sets[trial].reference.back(), rng, noise));
    }
  }
  const json all_sklearn = sklearn_reference(sets);
  REQUIRE(all_sklearn.size() == sets.size());
  int compared_kappas = 0;
  for (size_t trial = 0; trial < sets.size(); ++trial) {
    const ClinicalMetrics ours = clinical_metrics(sets[trial].reference, sets[trial].predicted);
    const json& sklearn = all_sklearn[trial];
    const std::string t = "trial " + std::to_string(trial) + " (" + std::to_string(sets[trial].reference.size()) + " studies)";
    for (const FindingScores& s : ours.findings) {
      const std::string what = t + " " + finding_code(s.finding);
      const json& listed = sklearn.at("findings");
      const json* theirs = listed.contains(finding_code(s.finding)) ? &listed.at(finding_code(s.finding)) : nullptr;
      if (!theirs) {
        CHECK_MESSAGE(s.counts.eyes() == 0, what, ": sklearn saw no eye for it");
        continue;
      }
      CHECK_MESSAGE(s.counts.eyes() == theirs->at("eyes").get<int64_t>(), what, ": eyes");
      CHECK_MESSAGE(s.counts.support() == theirs->at("support").get<int64_t>(), what, ": support");
      check_close(s.counts.precision(), theirs->at("precision"), what + " precision");
      check_close(s.counts.recall(), theirs->at("recall"), what + " recall");
      check_close(s.counts.f1(), theirs->at("f1"), what + " F1");
    }
    check_close(ours.macro_f1, sklearn.at("macro_f1"), t + " macro F1");
    check_close(ours.micro_f1, sklearn.at("micro_f1"), t + " micro F1");
    for (const auto& [scale, agreement] : ours.grades) {
      check_agreement(agreement, sklearn.at("grades").at(grade_scale_info(scale).code),
                      t + " " + grade_scale_info(scale).code);
      compared_kappas += !std::isnan(agreement.kappa());
    }
    check_agreement(ours.referral, sklearn.at("referral"), t + " referral");
  }
  CHECK_MESSAGE(compared_kappas > 40, "too few defined kappas were compared: ", compared_kappas);
}

TEST_CASE("a prediction equal to the reference scores 1 everywhere it is defined") {
  Random rng(5);
  std::vector<StudyLabels> reference;
  for (int i = 0; i < 200; ++i) reference.push_back(test::random_study(rng, "p").labels);
  const std::vector<std::optional<StudyLabels>> predicted(reference.begin(), reference.end());
  const ClinicalMetrics m = clinical_metrics(reference, predicted);
  for (const FindingScores& s : m.findings)
    if (s.counts.support() > 0) CHECK_MESSAGE(s.counts.f1() == 1.0, finding_code(s.finding));
  CHECK(m.macro_f1 == 1.0);
  CHECK(m.micro_f1 == 1.0);
  for (const auto& [scale, a] : m.grades) {
    CHECK(a.accuracy() == 1.0);
    CHECK(a.kappa() == doctest::Approx(1.0).epsilon(1e-15));
  }
  CHECK(m.referral.accuracy() == 1.0);
  CHECK(m.missing_predictions == 0);
  CHECK(m.unstated_eyes == 0);
  CHECK(m.unexamined == 0);
  CHECK(m.studies_with_unexamined == 0);
}

TEST_CASE("a missing prediction states nothing: findings negative, grades and referral not stated") {
  EyeLabels eye;
  eye.imaged = {Modality::Cfp};
  eye.findings = {Finding::Microaneurysms};
  eye.grades[GradeScale::Icdr] = 1;
  StudyLabels reference;
  reference.eyes[Eye::OD] = eye;
  const ClinicalMetrics m = clinical_metrics({reference, reference}, {std::nullopt, reference});
  CHECK(m.missing_predictions == 1);
  CHECK(m.unstated_eyes == 1);
  const BinaryCounts& ma = m.findings[static_cast<size_t>(Finding::Microaneurysms)].counts;
  CHECK(ma.true_positives == 1);
  CHECK(ma.false_negatives == 1);
  CHECK(ma.recall() == 0.5);
  CHECK(m.findings[static_cast<size_t>(Finding::GlandDropout)].counts.eyes() == 0);  // OSA not imaged
  const LevelAgreement& icdr = m.grades.at(GradeScale::Icdr);
  CHECK(icdr.confusion[1][5] == 1);  // the "not stated" column
  CHECK(icdr.stated() == 1);
  CHECK(icdr.accuracy() == 0.5);
  CHECK(std::isnan(icdr.kappa()));  // one stated eye: chance agreement is perfect
  const json j = to_json(m);
  CHECK(j["grades"]["icdr"]["kappa"].is_null());
  CHECK(j["grades"]["oct_class"]["kappa_weights"] == "none");
  CHECK(j["referral"]["confusion"][0][3] == 1);
}

TEST_CASE("a report describing an examination that was not made is counted, not scored") {
  EyeLabels od;  // the reference: a fundus photograph of the right eye only
  od.imaged = {Modality::Cfp};
  od.findings = {Finding::Microaneurysms};
  od.grades[GradeScale::Icdr] = 1;
  StudyLabels reference;
  reference.eyes[Eye::OD] = od;

  // Study 1: an OCT of the right eye said to be imaged and graded, and a meibography of a left eye
  // nobody examined (an extra eye). Study 2: a meibography finding in the right eye, the modality
  // not listed as imaged. Study 3: the reference itself.
  StudyLabels invented = reference;
  invented.eyes[Eye::OD].imaged = {Modality::Cfp, Modality::Oct};
  invented.eyes[Eye::OD].grades[GradeScale::OctClass] = 2;
  EyeLabels os;
  os.imaged = {Modality::Osa};
  os.findings = {Finding::GlandDropout};
  invented.eyes[Eye::OS] = os;
  StudyLabels ghost = reference;
  ghost.eyes[Eye::OD].findings.push_back(Finding::GhostGlands);

  const ClinicalMetrics m = clinical_metrics({reference, reference, reference}, {invented, ghost, reference});
  CHECK(m.unexamined == 3);  // OD OCT, OS meibography, OD meibography
  CHECK(m.studies_with_unexamined == 2);
  CHECK(m.extra_eyes == 1);
  // What was examined scores as before; what was not is not scored.
  const BinaryCounts& ma = m.findings[static_cast<size_t>(Finding::Microaneurysms)].counts;
  CHECK(ma.true_positives == 3);
  CHECK(ma.f1() == 1.0);
  CHECK(m.findings[static_cast<size_t>(Finding::GhostGlands)].counts.eyes() == 0);
  CHECK(m.grades.at(GradeScale::OctClass).eyes() == 0);
  CHECK(m.grades.at(GradeScale::Icdr).accuracy() == 1.0);
  const json j = to_json(m);
  CHECK(j["unexamined"] == 3);
  CHECK(j["studies_with_unexamined"] == 2);
}

TEST_CASE("unequal reference and prediction lists are refused") {
  test::check_message(test::error_from([] { clinical_metrics({StudyLabels{}}, {}); }), ErrorCode::InvalidArgument,
                      "1 reference studies but 0 predictions");
}
