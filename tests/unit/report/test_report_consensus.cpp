// Choosing the consensus draft (report_consensus.hpp): label agreement and the minimum-Bayes-risk
// choice, on hand-made labels whose answers can be worked out by hand.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
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

TEST_CASE("label agreement: findings F1 plus one per grade stated alike, per eye both state") {
  const StudyLabels a = study({{Eye::OD, eye({Finding::Microaneurysms, Finding::HardExudates},
                                             {{GradeScale::Icdr, 1}, {GradeScale::Areds, 0}})}});
  const StudyLabels b = study({{Eye::OD, eye({Finding::Microaneurysms}, {{GradeScale::Icdr, 1}, {GradeScale::Areds, 2}})},
                               {Eye::OS, eye({}, {{GradeScale::Icdr, 0}})}});
  // OD: F1 = 2·1 / (2 + 1) = 2/3, ICDR alike +1, AREDS differs; OS, stated by b alone, agrees on
  // nothing — not on "no findings" (F1 1), or a draft inventing a normal eye would gain by it.
  CHECK(label_agreement(a, b) == doctest::Approx(2.0 / 3.0 + 1.0));
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

namespace {

EyeLabels read_eye(std::vector<Modality> imaged, std::vector<Finding> findings, std::map<GradeScale, int> grades,
                   std::vector<Modality> ungradable = {}) {
  EyeLabels e = eye(std::move(findings), std::move(grades));
  e.imaged = std::move(imaged);
  e.ungradable = std::move(ungradable);
  return e;
}

}  // namespace

TEST_CASE("evidence agreement counts only what the evidence read: its eyes, gradable modalities and scales") {
  // The evidence read a gradable fundus photograph of OD: microaneurysms, ICDR 1.
  const StudyLabels evidence =
      study({{Eye::OD, read_eye({Modality::Cfp}, {Finding::Microaneurysms}, {{GradeScale::Icdr, 1}})}});
  // A draft that also states an AREDS grade the evidence did not read: only OD's fundus findings
  // and its ICDR count.
  const StudyLabels draft =
      study({{Eye::OD, eye({Finding::Microaneurysms}, {{GradeScale::Icdr, 1}, {GradeScale::Areds, 2}})}});
  CHECK(evidence_agreement(draft, evidence) == doctest::Approx(1.0 + 1.0));
  // Also an OCT finding of OD and a left eye, neither of them examined: they agree on nothing and
  // cost one each (the next test case).
  const StudyLabels inventing = study(
      {{Eye::OD, eye({Finding::Microaneurysms, Finding::SubretinalFluid}, {{GradeScale::Icdr, 1}, {GradeScale::Areds, 2}})},
       {Eye::OS, eye({Finding::HardExudates}, {{GradeScale::Icdr, 2}})}});
  CHECK(evidence_agreement(inventing, evidence) == doctest::Approx(1.0 + 1.0 - 2.0));
  // Findings F1 within the fundus findings: {MA, hard exudates} against {MA} = 2/3; ICDR differs.
  const StudyLabels more = study({{Eye::OD, eye({Finding::Microaneurysms, Finding::HardExudates}, {{GradeScale::Icdr, 2}})}});
  CHECK(evidence_agreement(more, evidence) == doctest::Approx(2.0 / 3.0));
  // A draft silent about the evidence's eye agrees on nothing (its findings F1 is 0, not 1).
  CHECK(evidence_agreement(study({{Eye::OS, eye({}, {})}}), evidence) == 0.0);
  CHECK(evidence_agreement(draft, StudyLabels{}) == 0.0);
  // An ungradable image's modality holds no findings to agree on: any findings list scores 1.
  const StudyLabels blurred = study({{Eye::OD, read_eye({Modality::Cfp}, {}, {}, {Modality::Cfp})}});
  CHECK(evidence_agreement(more, blurred) == doctest::Approx(1.0));
}

TEST_CASE("a draft describing an examination the evidence does not hold loses one per eye and modality") {
  // Examined: a fundus photograph of OD (microaneurysms, ICDR 1) and an OCT of OS read ungradable.
  StudyLabels evidence;
  add_evidence(evidence, Eye::OD, read_eye({Modality::Cfp}, {Finding::Microaneurysms}, {{GradeScale::Icdr, 1}}));
  add_evidence(evidence, Eye::OS, read_eye({Modality::Oct}, {}, {}, {Modality::Oct}));
  const StudyLabels faithful = study({{Eye::OD, eye({Finding::Microaneurysms}, {{GradeScale::Icdr, 1}})}});
  CHECK(evidence_agreement(faithful, evidence) == doctest::Approx(2.0));  // OD 1 + 1; OS, not stated: 0
  // OD's OCT, stated by its grade alone; OD's meibography, by a finding alone; OS's fundus
  // photograph, listed as imaged with nothing in it: three examinations nobody made.
  StudyLabels inventing = faithful;
  inventing.eyes[Eye::OD].grades[GradeScale::OctClass] = 1;
  inventing.eyes[Eye::OD].findings.push_back(Finding::GhostGlands);
  inventing.eyes[Eye::OS].imaged = {Modality::Cfp, Modality::Oct};
  CHECK(evidence_agreement(inventing, evidence) == doctest::Approx(2.0 + 1.0 - 3.0));  // OS stated: no findings either side
  // Stating OS's ungradable OCT is no invention; an eye the evidence lacks entirely costs each of
  // the modalities it speaks of.
  StudyLabels both = faithful;
  both.eyes[Eye::OS].imaged = {Modality::Oct};
  CHECK(evidence_agreement(both, evidence) == doctest::Approx(3.0));
  StudyLabels one_eye;
  add_evidence(one_eye, Eye::OD, read_eye({Modality::Cfp}, {Finding::Microaneurysms}, {{GradeScale::Icdr, 1}}));
  both.eyes[Eye::OS].findings = {Finding::HardExudates};
  CHECK(evidence_agreement(both, one_eye) == doctest::Approx(2.0 - 2.0));  // OS: OCT and fundus
  // So among drafts that otherwise agree, the weighted evidence keeps the faithful one.
  CHECK(consensus_choice({inventing, inventing, faithful}, evidence, 1.0) == 2);
  CHECK(consensus_choice({inventing, inventing, faithful}, evidence, 0.0) == 0);
}

TEST_CASE("an eye only one side states is agreed on in nothing, so a draft gains nothing by inventing a normal eye") {
  const StudyLabels od_only = study({{Eye::OD, eye({Finding::Microaneurysms}, {{GradeScale::Icdr, 1}})}});
  StudyLabels with_os = od_only;
  with_os.eyes[Eye::OS] = read_eye({Modality::Cfp}, {}, {{GradeScale::Icdr, 0}});
  CHECK(label_agreement(od_only, with_os) == doctest::Approx(label_agreement(od_only, od_only)));  // 2
  // Each draft agrees 2 with each other one: a tie, and the first wins. Had the left eye counted as
  // "no findings on either side" (F1 1), the draft inventing it would score 3 + 3 against 2 + 3.
  CHECK(consensus_choice({od_only, with_os, od_only}) == 0);
  // The evidence examined both eyes, the left one normal: the draft silent about it states nothing
  // of it (0), the one stating it gets its findings F1 (1) and its ICDR (1).
  StudyLabels evidence;
  add_evidence(evidence, Eye::OD, read_eye({Modality::Cfp}, {Finding::Microaneurysms}, {{GradeScale::Icdr, 1}}));
  add_evidence(evidence, Eye::OS, read_eye({Modality::Cfp}, {}, {{GradeScale::Icdr, 0}}));
  CHECK(evidence_agreement(od_only, evidence) == doctest::Approx(2.0));
  CHECK(evidence_agreement(with_os, evidence) == doctest::Approx(4.0));
  CHECK(consensus_choice({od_only, with_os, od_only}, evidence, 1.0) == 1);
}

TEST_CASE("evidence readings add up per eye; a grade read first is kept") {
  StudyLabels evidence;
  add_evidence(evidence, Eye::OD, read_eye({Modality::Oct}, {Finding::SubretinalFluid}, {{GradeScale::OctClass, 2}}));
  add_evidence(evidence, Eye::OD,
               read_eye({Modality::Cfp}, {Finding::Microaneurysms, Finding::SubretinalFluid}, {{GradeScale::Icdr, 1}}));
  add_evidence(evidence, Eye::OD, read_eye({Modality::Oct}, {}, {{GradeScale::OctClass, 0}}, {Modality::Oct}));
  REQUIRE(evidence.eyes.size() == 1);
  const EyeLabels& od = evidence.eyes.at(Eye::OD);
  CHECK(od.imaged == std::vector<Modality>{Modality::Cfp, Modality::Oct});  // sorted, no repeats
  CHECK(od.ungradable == std::vector<Modality>{Modality::Oct});
  CHECK(od.findings == std::vector<Finding>{Finding::Microaneurysms, Finding::SubretinalFluid});
  CHECK(od.grades == std::map<GradeScale, int>{{GradeScale::Icdr, 1}, {GradeScale::OctClass, 2}});
}

TEST_CASE("weighted evidence can outvote the drafts' majority; at weight 0 it is ignored") {
  const StudyLabels none = study({{Eye::OD, eye({}, {{GradeScale::Icdr, 0}})}});
  const StudyLabels mild = study({{Eye::OD, eye({Finding::Microaneurysms}, {{GradeScale::Icdr, 1}})}});
  const StudyLabels heads_see_mild =
      study({{Eye::OD, read_eye({Modality::Cfp}, {Finding::Microaneurysms}, {{GradeScale::Icdr, 1}})}});
  // Drafts alone: the two "no DR" drafts agree with each other (2) and the mild one with neither.
  CHECK(consensus_choice({none, none, mild}) == 0);
  CHECK(consensus_choice({none, none, mild}, heads_see_mild, 0.0) == 0);
  // Weight w adds w·(N − 1)·agreement: the mild draft gets 2w·2, the others 2 from each other.
  CHECK(consensus_choice({none, none, mild}, heads_see_mild, 1.0) == 2);
  CHECK(consensus_choice({none, none, mild}, heads_see_mild, 0.25) == 0);  // 1 < 2
  // The supports themselves: the "no DR" drafts 2 each (from each other), the mild one 1·2·2.
  const std::vector<double> support = consensus_support({none, none, mild}, heads_see_mild, 1.0);
  REQUIRE(support.size() == 3);
  CHECK(support[0] == doctest::Approx(2.0));
  CHECK(support[1] == doctest::Approx(2.0));
  CHECK(support[2] == doctest::Approx(4.0));
  CHECK(most_supported(support) == 2);
  CHECK(most_supported({2.0, 2.0, 1.0}) == 0);  // a tie goes to the lowest index
  // A difference of rounding is a tie; one of substance is not.
  CHECK_FALSE(outscores(1.0 / 3.0 + 1.0 / 3.0 + 1.0 / 3.0 + 1e-12, 1.0));
  CHECK(outscores(1.0 + 1e-6, 1.0));
  // Evidence stating no eye changes nothing.
  CHECK(consensus_choice({none, none, mild}, StudyLabels{}, 5.0) == 0);
  test::check_message(test::error_from([&] { consensus_choice({none}, heads_see_mild, -1.0); }),
                      ErrorCode::InvalidArgument, "evidence weight is -1, expected a finite number >= 0");
  test::check_message(test::error_from([&] { consensus_choice({none}, heads_see_mild, std::nan("")); }),
                      ErrorCode::InvalidArgument, "evidence weight is nan");
}

TEST_CASE("a draft that denies a finding it states loses (N - 1) per contradiction, so a consistent twin wins") {
  const StudyLabels mild = study({{Eye::OD, eye({Finding::Microaneurysms}, {{GradeScale::Icdr, 1}})}});
  const StudyLabels moderate =
      study({{Eye::OD, eye({Finding::Microaneurysms, Finding::DotBlotHaemorrhages}, {{GradeScale::Icdr, 2}})}});
  // Three drafts reading alike (each pair agrees 1 + 1 = 2): 4 each; the first also denies one of
  // its findings, 4 − 2 · 1 = 2, so the second is chosen where without the count the first is.
  CHECK(consensus_support({mild, mild, mild}, {}, 0.0, {1, 0, 0}) == std::vector<double>{2.0, 4.0, 4.0});
  CHECK(consensus_choice({mild, mild, mild}, {}, 0.0, {1, 0, 0}) == 1);
  CHECK(consensus_choice({mild, mild, mild}) == 0);
  // A contradiction costs one grade's disagreement with every other draft: the majority still wins
  // over a lone consistent draft that disagrees with it more. mild, mild, moderate: the mild drafts
  // score 2 + (2/3 + 0) = 2.67, less 2 for a contradiction = 0.67; moderate 2 · 2/3 = 1.33.
  const std::vector<double> s = consensus_support({mild, mild, moderate}, {}, 0.0, {1, 1, 0});
  CHECK(s[0] == doctest::Approx(2.0 / 3.0));
  CHECK(s[2] == doctest::Approx(4.0 / 3.0));
  CHECK(consensus_choice({mild, mild, moderate}, {}, 0.0, {1, 1, 0}) == 2);
  CHECK(consensus_choice({mild, mild, moderate}, {}, 0.0, {1, 0, 0}) == 1);
  // Beside the evidence: two drafts agreeing (2) and matching the evidence (F1 1 + ICDR 1 = 2, at
  // weight 1 × (N − 1) = 1): 4 each, less 1 for the one that contradicts itself.
  const StudyLabels evidence = study({{Eye::OD, read_eye({Modality::Cfp}, {Finding::Microaneurysms}, {{GradeScale::Icdr, 1}})}});
  CHECK(consensus_support({mild, mild}, evidence, 1.0, {1, 0}) == std::vector<double>{3.0, 4.0});
  test::check_message(test::error_from([&] { consensus_choice({mild, mild}, {}, 0.0, {1}); }), ErrorCode::InvalidArgument,
                      "1 contradiction counts for 2 drafts");
}

TEST_CASE("of drafts stating the same grades, one whose recommendation line cannot say what each eye needs loses") {
  // Both drafts: right eye PDR (urgent referral, referral_for), left eye moderate NPDR (soon: within
  // 3 months). The first sends both eyes one way, "OU: refer immediately", at odds with the left
  // eye's grade; the second follows each eye's grade.
  const std::string findings =
      "Right eye (OD) CFP: neovascularisation of the disc; vitreous haemorrhage.\n"
      "Left eye (OS) CFP: microaneurysms; dot-blot haemorrhages.\n"
      "Impression: Right eye (OD): ICDR proliferative DR. Left eye (OS): ICDR moderate NPDR.\n";
  const std::string one_way = findings + "Recommendation: OU: refer immediately to a retina specialist.";
  const std::string per_eye = findings +
                              "Recommendation: Right eye (OD): refer immediately to a retina specialist. "
                              "Left eye (OS): refer to an ophthalmologist within 3 months.";
  const DraftChoice choice = choose_draft({one_way, per_eye}, "en");
  REQUIRE(choice.labels.size() == 2);
  CHECK(choice.conflicts == std::vector<size_t>{1, 0});  // the left eye's referral
  CHECK(choice.chosen == 1);
  // Without the conflict counted the two tie on their labels' agreement, and the first would win.
  CHECK(consensus_choice(choice.labels) == 0);
  // The labels are read from each draft's text: both state the same grades.
  CHECK(choice.labels[0].eyes.at(Eye::OS).grades == choice.labels[1].eyes.at(Eye::OS).grades);
  // Three drafts, two at odds with themselves: the one consistent draft wins over a majority that
  // agrees with it on every label.
  CHECK(choose_draft({one_way, one_way, per_eye}, "en").chosen == 2);
  // Consistent drafts compete on their labels alone.
  CHECK(choose_draft({per_eye, per_eye}, "en").conflicts == std::vector<size_t>{0, 0});
  test::check_message(test::error_from([] { choose_draft({}, "en"); }), ErrorCode::InvalidArgument, "no drafts to choose from");
}
