// Labels from free text a clinician might write (ophtha/report_extractor.hpp): synonyms and
// spellings, negations, eye sections, named scales, referral wording, ungradable images, in
// English and Chinese. (Reports the writer produces are pinned by test_report_round_trip.cpp.)
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ophtha/random.hpp"
#include "ophtha/report_extractor.hpp"
#include "ophtha/study_json.hpp"
#include "support/expect_error.hpp"

namespace {

using namespace ophtha;
using F = Finding;
using M = Modality;

const EyeLabels& eye(const StudyLabels& labels, Eye e, const std::string& text) {
  REQUIRE_MESSAGE(labels.eyes.count(e) == 1, eye_name(e) << " not found in: " << text << "\nextracted " << to_json(labels).dump());
  return labels.eyes.at(e);
}

int grade(const EyeLabels& e, GradeScale s) { return e.grades.count(s) ? e.grades.at(s) : -1; }

}  // namespace

TEST_CASE("English findings with synonyms, American spelling and negated lists") {
  const std::string text =
      "Right eye: color fundus photo shows scattered microaneurysms and a few dot-blot hemorrhages. "
      "No hard exudates, cotton wool spots or neovascularization. Left eye: fundus photograph without microaneurysms or haemorrhages.";
  const StudyLabels l = extract_labels_from_text(text, "en");
  const EyeLabels& od = eye(l, Eye::OD, text);
  CHECK(od.findings == std::vector<F>{F::Microaneurysms, F::DotBlotHaemorrhages});
  CHECK(od.imaged == std::vector<M>{M::Cfp});
  CHECK(grade(od, GradeScale::Icdr) == 2);  // implied by the findings: more than microaneurysms only
  const EyeLabels& os = eye(l, Eye::OS, text);
  CHECK(os.findings.empty());
  CHECK(grade(os, GradeScale::Icdr) == 0);
}

TEST_CASE("a negation ends at the clause; 'but' and postfix 'absent' are understood") {
  const std::string text = "OD fundus: no haemorrhages but several microaneurysms; exudates absent, cotton-wool spots present.";
  const StudyLabels od_labels = extract_labels_from_text(text, "en");
  const EyeLabels& od = eye(od_labels, Eye::OD, text);
  CHECK(od.findings == std::vector<F>{F::Microaneurysms, F::CottonWoolSpots});
}

TEST_CASE("longest match: proliferative is not read inside non-proliferative, nor a haemorrhage inside a disc haemorrhage") {
  const std::string text = "OS CFP: disc haemorrhage at the inferotemporal margin, C/D 0.72. Impression: OS moderate non-proliferative diabetic retinopathy.";
  const StudyLabels os_labels = extract_labels_from_text(text, "en");
  const EyeLabels& os = eye(os_labels, Eye::OS, text);
  CHECK(os.findings == std::vector<F>{F::DiscHaemorrhage});
  CHECK(grade(os, GradeScale::Icdr) == 2);
  CHECK(os.vertical_cdr == 0.72);
  CHECK(grade(os, GradeScale::CupDisc) == 2);
}

TEST_CASE("named scales with numbers: ICDR, AREDS, Kermany, meiboscore, vertical C/D") {
  const std::string text =
      "Both eyes (OU): fundus photographs gradable. ICDR grade 3. AREDS category 4. Vertical cup-to-disc ratio of 0.9. "
      "OCT: Kermany class DME. Meibography: meiboscore upper lid 1, lower lid 3.";
  const StudyLabels l = extract_labels_from_text(text, "auto");
  for (Eye e : {Eye::OD, Eye::OS}) {
    const EyeLabels& x = eye(l, e, text);
    CHECK(grade(x, GradeScale::Icdr) == 3);
    CHECK(grade(x, GradeScale::Areds) == 3);
    CHECK(x.vertical_cdr == 0.9);
    CHECK(grade(x, GradeScale::CupDisc) == 3);
    CHECK(grade(x, GradeScale::OctClass) == 2);
    CHECK(grade(x, GradeScale::MeiboscoreUpper) == 1);
    CHECK(grade(x, GradeScale::MeiboscoreLower) == 3);
    CHECK(x.imaged == std::vector<M>{M::Cfp, M::Oct, M::Osa});
  }
}

TEST_CASE("a stated OCT AMD stage is read after its anchor and never as an AREDS category") {
  // No OCT finding is named, so the implied stage would be 0: only the anchor can give these levels.
  const std::string en = "OD OCT: image quality good. OS OCT: image quality good. Impression: Right eye: OCT AMD stage: "
                         "intermediate AMD with PED. Left eye: AMD stage on OCT: neovascular AMD.";
  const StudyLabels l = extract_labels_from_text(en, "en");
  const EyeLabels &od = eye(l, Eye::OD, en), &os = eye(l, Eye::OS, en);
  CHECK(grade(od, GradeScale::OctAmd) == 2);
  CHECK(grade(os, GradeScale::OctAmd) == 3);
  CHECK(grade(od, GradeScale::Areds) == -1);  // "intermediate AMD" inside the stage words is not an AREDS grade
  const std::string zh = "右眼OCT：图像质量良好。诊断：右眼：OCT AMD分期：早期/中期年龄相关性黄斑变性。左眼：OCT年龄相关性黄斑变性分期：未见年龄相关性黄斑变性。";
  const StudyLabels z = extract_labels_from_text(zh, "zh");
  CHECK(grade(eye(z, Eye::OD, zh), GradeScale::OctAmd) == 1);
  CHECK(grade(eye(z, Eye::OD, zh), GradeScale::Areds) == -1);
  CHECK(grade(eye(z, Eye::OS, zh), GradeScale::OctAmd) == 0);
}

TEST_CASE("eye sections switch the eye that findings belong to, and OU means both") {
  const std::string text = "OCT OD: subretinal fluid and a PED. OS: intraretinal cysts. OU: drusen.";
  const StudyLabels l = extract_labels_from_text(text, "en");
  CHECK(eye(l, Eye::OD, text).findings ==
        std::vector<F>{F::OctDrusen, F::PigmentEpithelialDetachment, F::SubretinalFluid});
  CHECK(eye(l, Eye::OS, text).findings == std::vector<F>{F::OctDrusen, F::IntraretinalFluid});
}

TEST_CASE("Chinese findings, negations and eye sections") {
  const std::string text =
      "右眼眼底彩照：可见微动脉瘤及点片状出血，未见硬性渗出、棉絮斑。视盘：杯盘比0.45。"
      "左眼眼底彩照：未见出血及渗出，视盘出血，C/D 0.6，盘沿变窄。"
      "诊断：右眼中度非增殖期糖尿病视网膜病变。";
  const StudyLabels l = extract_labels_from_text(text, "zh");
  const EyeLabels& od = eye(l, Eye::OD, text);
  CHECK(od.findings == std::vector<F>{F::Microaneurysms, F::DotBlotHaemorrhages});
  CHECK(grade(od, GradeScale::Icdr) == 2);
  CHECK(od.vertical_cdr == 0.45);
  const EyeLabels& os = eye(l, Eye::OS, text);
  CHECK(os.findings == std::vector<F>{F::RimThinning, F::DiscHaemorrhage});
  CHECK(grade(os, GradeScale::CupDisc) == 1);
}

TEST_CASE("Chinese OCT and meibography wording, 双眼 for both eyes") {
  const std::string text = "双眼OCT：黄斑区视网膜下液，色素上皮脱离，脉络膜新生血管。双眼睑板腺照相：上睑腺体缺失，腺体迂曲。睑板腺缺失评分：上睑2分，下睑0分。";
  const StudyLabels l = extract_labels_from_text(text, "zh");
  for (Eye e : {Eye::OD, Eye::OS}) {
    const EyeLabels& x = eye(l, e, text);
    CHECK(x.findings == std::vector<F>{F::PigmentEpithelialDetachment, F::SubretinalFluid, F::ChoroidalNeovascularisation,
                                       F::GlandDropout, F::TortuousGlands});
    CHECK(grade(x, GradeScale::OctClass) == 3);
    CHECK(grade(x, GradeScale::MeiboscoreUpper) == 2);
    CHECK(grade(x, GradeScale::MeiboscoreLower) == 0);
  }
}

TEST_CASE("referral wording in both languages, per eye or for every eye") {
  struct Case {
    const char* text;
    Referral od, os;
  };
  const Case cases[] = {
      {"OD CFP: microaneurysms. OS CFP: normal. Recommendation: urgent referral to a retina specialist.", Referral::Urgent, Referral::Urgent},
      {"OD CFP: microaneurysms. OS CFP: normal. Plan: OD: refer within 3 months; OS: no referral needed, rescreen in 12 months.",
       Referral::Soon, Referral::Routine},
      {"OD CFP: microaneurysms. OS CFP: normal. Non-urgent referral to the eye clinic.", Referral::Soon, Referral::Soon},
      {"OD CFP: microaneurysms. OS CFP: normal. Routine annual screening.", Referral::Routine, Referral::Routine},
      {"右眼眼底彩照：微动脉瘤。左眼眼底彩照：未见异常。建议：右眼立即转诊眼科；左眼无需转诊，每年复查。", Referral::Urgent, Referral::Routine},
      {"右眼眼底彩照：微动脉瘤。左眼眼底彩照：未见异常。建议3个月内转诊眼科。", Referral::Soon, Referral::Soon},
      {"OD CFP: microaneurysms. OS CFP: normal. Refer to the eye clinic within 1 year.", Referral::Routine, Referral::Routine},
      {"右眼眼底彩照：微动脉瘤。左眼眼底彩照：未见异常。右眼建议尽快转诊。", Referral::Urgent, Referral::Routine},
  };
  for (const Case& c : cases) {
    const StudyLabels l = extract_labels_from_text(c.text, "auto");
    CHECK_MESSAGE(eye(l, Eye::OD, c.text).referral == c.od, c.text);
    CHECK_MESSAGE(eye(l, Eye::OS, c.text).referral == c.os, c.text);
  }
}

TEST_CASE("an ungradable image is recognised, and nothing is graded for it") {
  const std::string en = "Left eye OCT: image ungradable due to media opacity; repeat imaging. Left eye fundus photo: no microaneurysms.";
  const StudyLabels os_labels = extract_labels_from_text(en, "en");
  const EyeLabels& os = eye(os_labels, Eye::OS, en);
  CHECK(os.imaged == std::vector<M>{M::Cfp, M::Oct});
  CHECK(os.ungradable == std::vector<M>{M::Oct});
  CHECK(grade(os, GradeScale::OctClass) == -1);
  CHECK(grade(os, GradeScale::Icdr) == 0);
  const std::string zh = "右眼眼底彩照：屈光介质混浊，图像无法评估，建议复查。";
  const StudyLabels od_labels = extract_labels_from_text(zh, "zh");
  const EyeLabels& od = eye(od_labels, Eye::OD, zh);
  CHECK(od.ungradable == std::vector<M>{M::Cfp});
  CHECK(od.grades.empty());
}

TEST_CASE("text with no eye named states nothing; an unknown language is refused") {
  CHECK(extract_labels_from_text("Microaneurysms and hard exudates.", "en").eyes.empty());
  CHECK(extract_labels_from_text("", "zh").eyes.empty());
  const Error e = test::error_from([] { extract_labels_from_text("OD: normal", "de"); });
  CHECK(e.code() == ErrorCode::InvalidArgument);
  CHECK(std::string(e.what()).find("'de'") != std::string::npos);
}

TEST_CASE("any text, cut anywhere or not a report at all, is read without failing") {
  const std::string reports[] = {
      "Right eye (OD) CFP: microaneurysms, C/D 0.45; ICDR grade 2. AREDS category 3. Meiboscore upper 2 / lower 1. Urgent referral.",
      "右眼眼底彩照：可见微动脉瘤，杯盘比0.45。诊断：ICDR 2级；AREDS分级3级；睑板腺缺失评分：上睑2分，下睑1分。建议立即转诊。",
  };
  for (const std::string& report : reports)
    for (size_t cut = 0; cut <= report.size(); ++cut) CHECK_NOTHROW(extract_labels_from_text(report.substr(0, cut), "auto"));
  Random rng(9);
  const std::string alphabet = "ODSU:;.,0123456789 /()icdrareds c/d 杯盘比上睑下睑\xff\x80\n";
  for (int i = 0; i < 500; ++i) {
    std::string noise;
    for (int64_t n = rng.integer(0, 80); n > 0; --n) noise += alphabet[static_cast<size_t>(rng.integer(0, static_cast<int64_t>(alphabet.size()) - 1))];
    CHECK_NOTHROW(extract_labels_from_text(noise, "auto"));
  }
}

TEST_CASE("an eye given two different vertical C/D values keeps the last and is listed as a C/D conflict") {
  // The findings line says 0.75, the impression 0.60: the labels grade the last, the reading lists OD.
  const std::string zh = "右眼（OD）眼底照相：图像质量良好。视盘边界清，垂直杯盘比0.75，盘沿变薄。\n"
                         "左眼（OS）眼底照相：图像质量良好。垂直杯盘比0.40。\n"
                         "印象：右眼：垂直杯盘比0.60（早期青光眼性视杯改变）。左眼：垂直杯盘比0.40。";
  const ReportReading zh_reading = read_report(zh, "zh");
  CHECK(zh_reading.cup_disc_conflicts == std::vector<Eye>{Eye::OD});
  CHECK(zh_reading.contradictions.empty());
  CHECK(zh_reading.inconsistencies() == 1);
  CHECK(eye(zh_reading.labels, Eye::OD, zh).vertical_cdr == 0.60);
  CHECK(eye(zh_reading.labels, Eye::OS, zh).vertical_cdr == 0.40);
  // English: a value for both eyes, then one eye's own; equal values however written are no conflict
  // ("0.4" and "0.40"), nor are different values in different eyes.
  const std::string en = "Fundus photograph, both eyes (OU): vertical C/D 0.4. Left eye (OS): C/D 0.55.\n"
                         "Diagnosis: Right eye (OD): vertical C/D 0.40. Left eye (OS): vertical cup-to-disc ratio 0.50.";
  const ReportReading en_reading = read_report(en, "en");
  CHECK(en_reading.cup_disc_conflicts == std::vector<Eye>{Eye::OS});  // 0.4 (OU), 0.55, 0.50
  CHECK(eye(en_reading.labels, Eye::OS, en).vertical_cdr == 0.50);
  CHECK(read_report("Right eye (OD): vertical C/D 0.4. Left eye (OS): C/D 0.7. Diagnosis: OD C/D 0.40; OS C/D 0.70.", "en")
            .cup_disc_conflicts.empty());
}

TEST_CASE("a grade an eye's line states again in another item is listed as a grade repetition") {
  using R = std::vector<std::pair<Eye, GradeScale>>;
  CHECK(read_report("Impression: Right eye (OD): AREDS category 4; ICDR PDR; vertical C/D 0.22; AREDS category 4. "
                    "Left eye (OS): AREDS category 4; vertical C/D 0.30. Vertical C/D 0.30.",
                    "en")
            .grade_repetitions == R{{Eye::OD, GradeScale::Areds}, {Eye::OS, GradeScale::CupDisc}});
  // A C/D value and its stage in words state the cup_disc scale alike.
  CHECK(read_report("印象：左眼（OS）：早期青光眼性视杯改变，垂直杯盘比0.63；AREDS 4级；垂直杯盘比0.63（早期青光眼性视杯改变）。", "zh")
            .grade_repetitions == R{{Eye::OS, GradeScale::CupDisc}});
  // Not repetitions: a diagnosis with its scale in one item, the other eye, another line.
  CHECK(read_report("Impression: Right eye (OD): severe non-proliferative diabetic retinopathy, ICDR grade 3; no "
                    "age-related macular degeneration (AREDS category 1); vertical C/D 0.64 (early glaucomatous cupping). "
                    "Left eye (OS): ICDR grade 3; AREDS category 1.",
                    "en")
            .grade_repetitions.empty());
  CHECK(read_report("Right eye (OD) CFP: vertical C/D 0.36.\nImpression: Right eye (OD): vertical C/D 0.36.", "en")
            .grade_repetitions.empty());
}

TEST_CASE("an eye referred otherwise than its stated grades imply is listed as a referral conflict") {
  // Severe NPDR is urgent (referral_for); "within 3 months" is soon. The left eye's mild NPDR with a
  // C/D of 0.67 is soon, as referred.
  const std::string en = "Right eye (OD) CFP: microaneurysms. Left eye (OS) CFP: microaneurysms. Vertical C/D 0.67.\n"
                         "Impression: Right eye (OD): ICDR severe NPDR. Left eye (OS): ICDR mild NPDR.\n"
                         "Recommendation: Right eye (OD): refer to an ophthalmologist within 3 months. "
                         "Left eye (OS): ophthalmology referral within 3 months.";
  const ReportReading en_reading = read_report(en, "en");
  CHECK(en_reading.referral_conflicts == std::vector<Eye>{Eye::OD});
  CHECK(en_reading.inconsistencies() == 1);
  CHECK(eye(en_reading.labels, Eye::OD, en).referral == Referral::Soon);  // read as stated
  CHECK(referral_for(eye(en_reading.labels, Eye::OD, en)) == Referral::Urgent);
  // The same report referring the right eye urgently has none.
  std::string urgent = en;
  urgent.replace(urgent.find("refer to an ophthalmologist within 3 months"), 43, "urgent referral to a retina specialist");
  CHECK(read_report(urgent, "en").referral_conflicts.empty());
  // A routine follow-up without the word "refer" states routine: a conflict for an eye whose
  // moderate NPDR is soon; an eye with no recommendation at all states nothing and is no conflict.
  const std::string zh = "右眼（OD）眼底照相：微动脉瘤。左眼（OS）眼底照相：微动脉瘤。\n"
                         "印象：右眼：中度非增殖期糖尿病视网膜病变。左眼：中度非增殖期糖尿病视网膜病变。\n"
                         "建议：右眼：常规随访，1年后复查。";
  const ReportReading zh_reading = read_report(zh, "zh");
  CHECK(zh_reading.referral_conflicts == std::vector<Eye>{Eye::OD});
  CHECK(eye(zh_reading.labels, Eye::OS, zh).referral == Referral::Routine);
  // A recommendation in a line naming no eye is about each: routine for both eyes' moderate NPDR
  // conflicts twice.
  CHECK(read_report("OD CFP: microaneurysms, ICDR moderate NPDR. OS CFP: ICDR moderate NPDR.\n"
                    "Plan: routine annual screening, no referral required.", "en")
            .referral_conflicts == std::vector<Eye>{Eye::OD, Eye::OS});
  // A report without a recommendation has no referral conflict however severe its grades.
  CHECK(read_report("OD CFP: neovascularisation of the disc. ICDR proliferative DR.", "en").referral_conflicts.empty());
}

TEST_CASE("an eye given another follow-up interval than its stated grades imply is listed as a follow-up conflict") {
  // Severe NPDR: urgent, follow-up in 3 months (follow_up_months); mild NPDR: routine, 12 months.
  const std::string findings = "Right eye (OD) CFP: microaneurysms. Left eye (OS) CFP: microaneurysms.\n"
                               "Impression: Right eye (OD): ICDR severe NPDR. Left eye (OS): ICDR mild NPDR.\n";
  const auto conflicts = [&findings](const std::string& recommendation) {
    return read_report(findings + recommendation, "en").follow_up_conflicts;
  };
  CHECK(conflicts("Recommendation: Right eye (OD): urgent referral to a retina specialist. Follow-up in 3 months. "
                  "Left eye (OS): rescreen in 12 months (routine).")
            .empty());
  CHECK(conflicts("Recommendation: Right eye (OD): urgent referral to a retina specialist. Review in 6 months. "
                  "Left eye (OS): rescreen in 12 months (routine).") == std::vector<Eye>{Eye::OD});
  // A sentence naming no eye is about the eye its line named before it: here the left eye's
  // "Review in 3 months" conflicts, the right eye's follow-up stands.
  CHECK(conflicts("Recommendation: Right eye (OD): urgent referral to a retina specialist. Review in 3 months. "
                  "Left eye (OS): no referral needed. Review in 3 months.") == std::vector<Eye>{Eye::OS});
  // A referral's window is no follow-up interval; the soonest stated follow-up counts.
  CHECK(conflicts("Recommendation: Right eye (OD): urgent referral within 1 week; review in 12 months; follow-up in 3 "
                  "months. Left eye (OS): annual screening, no referral required.")
            .empty());
  // Chinese: "3个月内转诊" is the referral's window, "6个月后复查" the follow-up (moderate NPDR: 6).
  const std::string zh = "右眼（OD）眼底照相：微动脉瘤。\n印象：右眼：中度非增殖期糖尿病视网膜病变。\n";
  CHECK(read_report(zh + "建议：右眼：建议3个月内转诊眼科；6个月后复查。", "zh").follow_up_conflicts.empty());
  CHECK(read_report(zh + "建议：右眼：建议3个月内转诊眼科；每3个月随访一次。", "zh").follow_up_conflicts ==
        std::vector<Eye>{Eye::OD});
  CHECK(read_report(zh + "建议：右眼：建议3个月内转诊眼科；1年后复查。", "zh").follow_up_conflicts ==
        std::vector<Eye>{Eye::OD});
}

TEST_CASE("a finding a report both states and denies for an eye is read as stated and listed as a contradiction") {
  using C = EyeFinding;
  // English: stated for both eyes, denied for the right eye only; denied before it is stated in the
  // left eye; a denial of what the eye never states contradicts nothing.
  const std::string en =
      "Fundus photograph, both eyes (OU): microaneurysms and hard exudates. Right eye (OD): no hard exudates or "
      "cotton-wool spots. Left eye (OS): no vitreous haemorrhage. Left eye (OS): no microaneurysms. Left eye (OS): "
      "microaneurysms.";
  const ReportReading reading = read_report(en, "en");
  CHECK(reading.contradictions == std::vector<C>{{Eye::OD, F::HardExudates}, {Eye::OS, F::Microaneurysms}});
  CHECK(to_json(reading.labels) == to_json(extract_labels_from_text(en, "en")));
  CHECK(eye(reading.labels, Eye::OD, en).findings == std::vector<F>{F::Microaneurysms, F::HardExudates});  // stated wins
  // Chinese: the list, then a sentence denying one of its findings; the other eye denies only.
  const std::string zh = "右眼眼底彩照：见微动脉瘤及硬性渗出。未见硬性渗出及玻璃体积血。左眼眼底彩照：未见微动脉瘤。";
  const ReportReading zh_reading = read_report(zh, "zh");
  CHECK(zh_reading.contradictions == std::vector<C>{{Eye::OD, F::HardExudates}});
  CHECK(to_json(zh_reading.labels) == to_json(extract_labels_from_text(zh, "zh")));
  // A consistent report has none: the same findings stated twice, or stated in one eye and denied
  // in the other.
  CHECK(read_report("右眼眼底彩照：微动脉瘤。黄斑区微动脉瘤。左眼眼底彩照：未见微动脉瘤。", "zh").contradictions.empty());
  CHECK(read_report("Right eye (OD): microaneurysms. Left eye (OS): no microaneurysms.", "en").contradictions.empty());
  CHECK(reading.repetitions == std::vector<C>{{Eye::OS, F::Microaneurysms}});  // OU's, then OS's again
  CHECK(zh_reading.repetitions.empty());
  const Error e = test::error_from([] { read_report("OD: normal", "de"); });
  CHECK(e.code() == ErrorCode::InvalidArgument);
  CHECK(std::string(e.what()).find("read_report: language 'de'") != std::string::npos);
}

TEST_CASE("a finding named again for an eye is a repetition; a synonym in brackets is the same mention") {
  using C = EyeFinding;
  const std::string en =
      "Fundus photograph, right eye (OD): hard exudates, soft exudates (cotton-wool spots), microaneurysms and hard "
      "exudates at the macula. Intraretinal microvascular abnormalities (IRMA). Hard exudates.";
  CHECK(read_report(en, "en").repetitions == std::vector<C>{{Eye::OD, F::HardExudates}, {Eye::OD, F::HardExudates}});
  const std::string zh = "双眼眼底彩照：视网膜内微血管异常（IRMA）及微动脉瘤。右眼：微动脉瘤。左眼：黄斑区微动脉瘤、后极部微动脉瘤。";
  CHECK(read_report(zh, "zh").repetitions ==
        std::vector<C>{{Eye::OD, F::Microaneurysms}, {Eye::OS, F::Microaneurysms}, {Eye::OS, F::Microaneurysms}});
  // Denying a finding again is no repetition, nor is the other eye's mention.
  CHECK(read_report("Right eye (OD): no microaneurysms. No microaneurysms. Left eye (OS): microaneurysms.", "en")
            .repetitions.empty());
}

TEST_CASE("the grades only the findings imply are listed apart from the grades the report states") {
  // OD's fundus photograph names lesions and grades nothing: ICDR and AREDS come from rule 6. OS
  // grades ICDR in words, so only its AREDS level is implied; its OCT grades one scale of two.
  const ReportReading r = read_report(
      "OD CFP: microaneurysms and hard exudates.\nOS CFP: microaneurysms. Impression: OS: ICDR grade 1. OS OCT: Kermany class normal.",
      "en");
  const std::vector<std::pair<Eye, GradeScale>> implied = {
      {Eye::OD, GradeScale::Icdr}, {Eye::OD, GradeScale::Areds}, {Eye::OS, GradeScale::Areds}, {Eye::OS, GradeScale::OctAmd}};
  CHECK(r.implied_grades == implied);
  CHECK(r.labels.eyes.at(Eye::OD).grades.at(GradeScale::Icdr) == 2);  // implied: more than microaneurysms
  CHECK(r.labels.eyes.at(Eye::OS).grades.at(GradeScale::Icdr) == 1);
  // Chinese alike; a C/D value and the meiboscores are stated, never implied.
  const ReportReading zh = read_report("右眼眼底彩照：微动脉瘤。垂直杯盘比0.40。诊断：右眼：AREDS 1级。", "zh");
  CHECK(zh.implied_grades == std::vector<std::pair<Eye, GradeScale>>{{Eye::OD, GradeScale::Icdr}});
  CHECK(read_report("Impression: OD: ICDR grade 0; AREDS category 1.", "en").implied_grades.empty());
}

TEST_CASE("opens_summary_section: a line beginning with an impression or a recommendation heading, in either language") {
  for (const char* line : {"Diagnosis: Right eye (OD): ICDR grade 2.", "  Impression: OU: no DR.", "Recommendations: Right eye: review.",
                           "PLAN: review in 12 months.", "Assessment:", "诊断：右眼（OD）：ICDR 2级。", "印象：双眼未见异常。",
                           "随访建议：右眼（OD）：每年复查。", "处理意见：建议转诊。"}) {
    INFO(line);
    CHECK(opens_summary_section(line));
  }
  // Findings lines, a heading word elsewhere in the line, or a longer word beginning with one.
  for (const char* line : {"OD Colour fundus photography (CFP): Image quality good. Microaneurysms.",
                           "Fundus photograph, right eye (OD): consistent with the diagnosis of NPDR.", "Planar drusen.",
                           "右眼（OD）眼底照相：图像质量良好。建议复查。", "", "   "}) {
    INFO(line);
    CHECK_FALSE(opens_summary_section(line));
  }
}
