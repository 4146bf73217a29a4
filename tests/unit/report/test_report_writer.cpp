// Reference reports (ophtha/report_writer.hpp): the §4.8 structure, named grading scales, both
// eyes written once when they agree, ungradable images said to be ungradable, real variety of
// wording, and the same text for the same seed.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "ophtha/label_sampler.hpp"
#include "ophtha/report_writer.hpp"
#include "support/expect_error.hpp"

namespace {

using namespace ophtha;
using F = Finding;

EyeLabels moderate_npdr_eye() {
  EyeLabels e;
  e.findings = {F::Microaneurysms, F::DotBlotHaemorrhages, F::HardExudates};
  e.grades = {{GradeScale::Icdr, 2}, {GradeScale::Areds, 0}, {GradeScale::CupDisc, 0}};
  e.vertical_cdr = 0.35;
  e.imaged = {Modality::Cfp};
  e.referral = referral_for(e);
  return e;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("when both eyes agree the report speaks of both eyes once, in either language") {
  StudyLabels labels;
  labels.eyes = {{Eye::OD, moderate_npdr_eye()}, {Eye::OS, moderate_npdr_eye()}};
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Random rng(seed);
    const std::string en = write_report(labels, "en", rng), zh = write_report(labels, "zh", rng);
    CHECK_MESSAGE((contains(en, "both eyes") || contains(en, "OU")), en);
    CHECK_MESSAGE(!contains(en, "right eye"), en);
    CHECK_MESSAGE((contains(zh, "双眼") || contains(zh, "OU")), zh);
    CHECK_MESSAGE(!contains(zh, "右眼"), zh);
  }
}

TEST_CASE("the impression names each grade on its scale and the recommendation gives urgency and interval") {
  StudyLabels labels;
  EyeLabels e = moderate_npdr_eye();
  e.imaged = {Modality::Cfp, Modality::Oct, Modality::Osa};
  e.findings.insert(e.findings.end(), {F::SubretinalFluid, F::ChoroidalNeovascularisation, F::GlandDropout});
  e.grades[GradeScale::OctClass] = 3;
  e.grades[GradeScale::MeiboscoreUpper] = 2;
  e.grades[GradeScale::MeiboscoreLower] = 1;
  e.referral = referral_for(e);
  labels.eyes[Eye::OS] = e;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Random rng(seed);
    const std::string en = write_report(labels, "en", rng);
    for (const char* part : {"ICDR", "AREDS", "C/D 0.35", "Kermany", "upper", "lower", "eibo"}) CHECK_MESSAGE(contains(en, part), part << " missing from\n" << en);
    CHECK_MESSAGE((contains(en, "rgent referral") || contains(en, "immediately") || contains(en, "ame-week")), en);
    CHECK_MESSAGE(contains(en, "1 month"), en);  // CNV: follow-up in 1 month
    const std::string zh = write_report(labels, "zh", rng);
    for (const char* part : {"ICDR", "AREDS", "0.35", "上睑2分", "下睑1分", "转诊", "左眼"}) CHECK_MESSAGE(contains(zh, part), part << " missing from\n" << zh);
  }
}

TEST_CASE("an ungradable image is reported as ungradable with repeat imaging, and none of its findings") {
  StudyLabels labels;
  EyeLabels e;
  e.imaged = {Modality::Cfp};
  e.ungradable = {Modality::Cfp};
  e.referral = referral_for(e);
  labels.eyes[Eye::OD] = e;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Random rng(seed);
    const std::string en = write_report(labels, "en", rng), zh = write_report(labels, "zh", rng);
    CHECK_MESSAGE((contains(en, "ungradable") || contains(en, "cannot be graded")), en);
    CHECK_MESSAGE(contains(en, "repeat"), en);
    CHECK_MESSAGE(!contains(en, "C/D"), en);
    CHECK_MESSAGE(!contains(en, "ICDR"), en);
    CHECK_MESSAGE((contains(zh, "无法") || contains(zh, "不可分级")), zh);
    CHECK_MESSAGE(contains(zh, "重新"), zh);
  }
}

TEST_CASE("the wording varies from report to report while the labels stay the same") {
  StudyLabels labels;
  labels.eyes = {{Eye::OD, moderate_npdr_eye()}};
  for (const char* lang : {"en", "zh"}) {
    std::set<std::string> texts, first_lines;
    for (uint64_t seed = 0; seed < 200; ++seed) {
      Random rng(seed);
      const std::string text = write_report(labels, lang, rng);
      texts.insert(text);
      first_lines.insert(text.substr(0, text.find(labels.eyes.size() ? ':' : '\n')));
    }
    CHECK_MESSAGE(texts.size() > 150, lang << ": " << texts.size() << " distinct reports of 200");
    CHECK_MESSAGE(first_lines.size() > 5, lang << ": " << first_lines.size() << " distinct openings");
  }
}

TEST_CASE("the same labels and seed give the same text, pinned across platforms") {
  Random a(77), b(77);
  const StudyLabels labels = sample_study_labels(a);
  CHECK(sample_study_labels(b).eyes.size() == labels.eyes.size());
  Random ra(5), rb(5), rc(6);
  const std::string text = write_report(labels, "en", ra);
  CHECK(text == write_report(labels, "en", rb));
  CHECK(text != write_report(labels, "en", rc));
  StudyLabels one;
  one.eyes = {{Eye::OD, moderate_npdr_eye()}};
  Random pinned(1);
  CHECK(write_report(one, "en", pinned) ==
        "Eye examination report\n"
        "OD Fundus photograph: Hard exudates in a circinate pattern at the macula, microaneurysms temporal to the fovea and "
        "intraretinal haemorrhages in the inferotemporal quadrant. Vertical cup-to-disc ratio 0.35.\n"
        "Impression: Right eye (OD): no age-related macular degeneration (AREDS category 1); moderate non-proliferative "
        "diabetic retinopathy, ICDR grade 2; vertical C/D 0.35 (physiological cupping).\n"
        "Recommendations: Non-urgent referral to the eye clinic (within 3 months). Next review in 6 months.");
}

TEST_CASE("instrument lines are terse: modality, eye, findings, measurement, quality") {
  Random rng(3);
  const EyeLabels e = moderate_npdr_eye();
  const std::string en = write_instrument_findings(e, Eye::OD, Modality::Cfp, "en", rng);
  CHECK_MESSAGE(en.rfind("CFP OD: microaneurysms; dot-blot haemorrhages; hard exudates; C/D 0.35; quality ", 0) == 0, en);
  const std::string zh = write_instrument_findings(e, Eye::OS, Modality::Cfp, "zh", rng);
  CHECK_MESSAGE(zh.rfind("眼底彩照 左眼：微动脉瘤；点片状出血；硬性渗出；杯盘比 0.35；图像质量", 0) == 0, zh);
  EyeLabels bad = e;
  bad.ungradable = {Modality::Cfp};
  CHECK(write_instrument_findings(bad, Eye::OD, Modality::Cfp, "en", rng) == "CFP OD: quality poor, ungradable");
  const Error missing = test::error_from([&] { write_instrument_findings(e, Eye::OD, Modality::Oct, "en", rng); });
  CHECK(contains(missing.what(), "OD has no oct image (imaged: cfp)"));
}

TEST_CASE("a language other than zh or en, or a grade outside its scale, is refused with the reason") {
  StudyLabels labels;
  labels.eyes = {{Eye::OD, moderate_npdr_eye()}};
  Random rng(1);
  const Error e = test::error_from([&] { write_report(labels, "fr", rng); });
  CHECK(e.code() == ErrorCode::InvalidArgument);
  CHECK(contains(e.what(), "'fr'"));
  labels.eyes[Eye::OD].grades[GradeScale::Icdr] = 9;
  CHECK(contains(test::error_from([&] { write_report(labels, "en", rng); }).what(), "labels.OD.grades.icdr is 9"));
}

TEST_CASE("docs/reports.md shows what the writer writes for its example studies") {
  std::ifstream in(std::string(OPHTHA_SOURCE_DIR) + "/docs/reports.md");
  REQUIRE(in.good());
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (uint64_t study : {2, 6}) {
    Random labels_rng = Random(2026).fork(study);
    const StudyLabels labels = sample_study_labels(labels_rng);
    for (const char* lang : {"en", "zh"}) {
      Random text_rng = labels_rng.fork(static_cast<uint64_t>(lang[0]));
      const std::string report = write_report(labels, lang, text_rng);
      CHECK_MESSAGE(contains(doc, report), "docs/reports.md lacks study " << study << " (" << std::string(lang)
                                                                          << ") as now written:\n" << report);
    }
  }
}
