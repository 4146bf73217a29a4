// Choosing the consensus draft (report_consensus.hpp): label agreement and the minimum-Bayes-risk
// choice, on hand-made labels whose answers can be worked out by hand.
#include <doctest/doctest.h>

#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/report_consensus.hpp"
#include "support/expect_error.hpp"

using namespace ophtha;

namespace {

EyeLabels eye(std::vector<Finding> findings, std::map<GradeScale, int> grades) {
  EyeLabels e;
  e.findings = std::move(findings);
  e.grades = std::move(grades);
  return e;
}

StudyLabels study(std::map<Eye, EyeLabels> eyes) {
  StudyLabels s;
  s.eyes = std::move(eyes);
  return s;
}

}  // namespace

TEST_CASE("label agreement: findings F1 plus one per grade stated alike, per eye either states") {
  const StudyLabels a = study({{Eye::OD, eye({Finding::Microaneurysms, Finding::HardExudates},
                                             {{GradeScale::Icdr, 1}, {GradeScale::Areds, 0}})}});
  const StudyLabels b = study({{Eye::OD, eye({Finding::Microaneurysms}, {{GradeScale::Icdr, 1}, {GradeScale::Areds, 2}})},
                               {Eye::OS, eye({}, {{GradeScale::Icdr, 0}})}});
  // OD: F1 = 2·1 / (2 + 1) = 2/3, ICDR alike +1, AREDS differs; OS only in b: no findings on either
  // side (F1 1), its ICDR stated by b alone (0).
  CHECK(label_agreement(a, b) == doctest::Approx(2.0 / 3.0 + 1.0 + 1.0));
  CHECK(label_agreement(b, a) == doctest::Approx(label_agreement(a, b)));
  CHECK(label_agreement(a, a) == doctest::Approx(1.0 + 2.0));
  CHECK(label_agreement(StudyLabels{}, StudyLabels{}) == 0.0);
  // A finding listed twice counts once.
  const StudyLabels twice = study({{Eye::OD, eye({Finding::Microaneurysms, Finding::Microaneurysms}, {})}});
  const StudyLabels once = study({{Eye::OD, eye({Finding::Microaneurysms}, {})}});
  CHECK(label_agreement(twice, once) == doctest::Approx(1.0));
}

TEST_CASE("the consensus draft is the one agreeing most with the others; ties go to the first") {
  const StudyLabels mild = study({{Eye::OD, eye({Finding::Microaneurysms}, {{GradeScale::Icdr, 1}})}});
  const StudyLabels none = study({{Eye::OD, eye({}, {{GradeScale::Icdr, 0}})}});
  const StudyLabels moderate =
      study({{Eye::OD, eye({Finding::Microaneurysms, Finding::DotBlotHaemorrhages}, {{GradeScale::Icdr, 2}})}});
  // A greedy "no DR" draft first, outvoted by three drafts that see microaneurysms.
  CHECK(consensus_choice({none, mild, moderate, mild}) == 1);
  CHECK(consensus_choice({none, moderate, mild, mild}) == 2);
  // Every draft alike, or only one: the first.
  CHECK(consensus_choice({mild, mild, mild}) == 0);
  CHECK(consensus_choice({moderate}) == 0);
  // Two against two: the tie goes to the lowest index.
  CHECK(consensus_choice({none, mild, none, mild}) == 0);
  test::check_message(test::error_from([] { consensus_choice({}); }), ErrorCode::InvalidArgument, "no drafts");
}
