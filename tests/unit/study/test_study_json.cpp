// The JSON of labels, images and studies (ophtha/study_json.hpp): round trips, exact codes, and
// readers that list every problem with its field path.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ophtha/study_json.hpp"
#include "support/expect_error.hpp"
#include "unit/study/random_studies.hpp"

namespace {

using nlohmann::json;
using namespace ophtha;

bool has_problem(const std::vector<std::string>& problems, const std::string& start, const std::string& part) {
  return std::any_of(problems.begin(), problems.end(), [&](const std::string& p) {
    return p.rfind(start, 0) == 0 && p.find(part) != std::string::npos;
  });
}

std::string listed(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& p : problems) out += "\n  " + p;
  return out;
}

json valid_eye() {
  return json::parse(R"({"findings": ["hard_exudates", "microaneurysms"], "grades": {"icdr": 2, "cup_disc": 1},
                         "vertical_cdr": 0.6, "imaged": ["cfp"], "ungradable": [], "referral": "soon"})");
}

}  // namespace

TEST_CASE("studies written with to_json read back field for field, through the JSON text") {
  Random rng(7);
  for (int i = 0; i < 300; ++i) {
    const Study study = test::random_study(rng, "s" + std::to_string(i));
    std::vector<std::string> problems;
    const Study back = study_from_json(json::parse(to_json(study).dump()), "", problems);
    REQUIRE_MESSAGE(problems.empty(), "study ", i, listed(problems));
    test::check_same_study(study, back);
  }
}

TEST_CASE("eye labels JSON has the documented keys; findings come out sorted, vertical_cdr only when set") {
  EyeLabels eye;
  eye.findings = {Finding::Microaneurysms, Finding::HardExudates};
  eye.grades[GradeScale::Icdr] = 2;
  eye.imaged = {Modality::Cfp};
  eye.referral = Referral::Soon;
  const json j = to_json(eye);
  CHECK(j.at("findings") == json({"microaneurysms", "hard_exudates"}));
  CHECK(j.at("grades") == json({{"icdr", 2}}));
  CHECK(j.at("imaged") == json({"cfp"}));
  CHECK(j.at("ungradable") == json::array());
  CHECK(j.at("referral") == "soon");
  CHECK_FALSE(j.contains("vertical_cdr"));

  std::vector<std::string> problems;
  const EyeLabels back = eye_labels_from_json(valid_eye(), "e", problems);
  CHECK_MESSAGE(problems.empty(), listed(problems));
  CHECK(back.findings == std::vector<Finding>{Finding::Microaneurysms, Finding::HardExudates});
  CHECK(back.vertical_cdr == 0.6);
}

TEST_CASE("an eye-labels reader lists every problem, each with its field path and what was expected") {
  json j = valid_eye();
  j["findings"] = {"microaneurysms", "cotton_wool", "microaneurysms"};  // unknown code, repeat
  j["grades"] = {{"icdr", 7}, {"areds", 1.5}, {"dr_grade", 1}, {"cup_disc", true}};
  j["imaged"] = {"CFP"};
  j["referral"] = 2;
  j["vertical_cdr"] = 1.2;
  j["comment"] = "x";
  j.erase("ungradable");
  std::vector<std::string> problems;
  eye_labels_from_json(j, "labels.OD", problems);
  INFO("problems:" << listed(problems));
  CHECK(problems.size() == 11);
  CHECK(has_problem(problems, "labels.OD.findings[1]: ", "unknown finding 'cotton_wool'"));
  CHECK(has_problem(problems, "labels.OD.findings[2]: ", "repeated"));
  CHECK(has_problem(problems, "labels.OD.grades.icdr: ", "expected an integer level 0..4"));
  CHECK(has_problem(problems, "labels.OD.grades.areds: ", "the number 1.5"));
  CHECK(has_problem(problems, "labels.OD.grades.dr_grade: ", "unknown grading scale"));
  CHECK(has_problem(problems, "labels.OD.grades.cup_disc: ", "is true"));
  CHECK(has_problem(problems, "labels.OD.imaged[0]: ", "unknown modality 'CFP'"));
  CHECK(has_problem(problems, "labels.OD.referral: ", "expected \"routine\", \"soon\" or \"urgent\""));
  CHECK(has_problem(problems, "labels.OD.vertical_cdr: ", "in [0, 1]"));
  CHECK(has_problem(problems, "labels.OD.comment: ", "unknown key"));
  CHECK(has_problem(problems, "labels.OD.ungradable: ", "is missing"));
}

TEST_CASE("grades accept integral numbers such as 2.0 (JSON does not tell 2 from 2.0) and a null vertical_cdr") {
  json j = valid_eye();
  j["grades"]["icdr"] = 2.0;
  j["vertical_cdr"] = nullptr;
  std::vector<std::string> problems;
  const EyeLabels eye = eye_labels_from_json(j, "", problems);
  CHECK_MESSAGE(problems.empty(), listed(problems));
  CHECK(eye.grades.at(GradeScale::Icdr) == 2);
  CHECK_FALSE(eye.vertical_cdr.has_value());
}

TEST_CASE("study labels accept only OD and OS, and a study's top level names its problems") {
  std::vector<std::string> problems;
  study_labels_from_json(json{{"OU", valid_eye()}}, "labels", problems);
  CHECK(has_problem(problems, "labels.OU: ", "unknown key, expected only OD, OS"));

  problems.clear();
  study_from_json(json::array(), "", problems);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].rfind("(top level): is an array, expected a study", 0) == 0);

  problems.clear();
  Random rng(3);
  json study = to_json(test::random_study(rng, "x"));
  study["split"] = "dev";
  study["reports"] = {{"fr", "rapport"}, {"en", ""}};
  study["images"][0]["eye"] = "od";
  study.erase("id");
  study_from_json(study, "", problems);
  INFO("problems:" << listed(problems));
  CHECK(problems.size() == 5);
  CHECK(has_problem(problems, "split: ", "unknown split 'dev'"));
  CHECK(has_problem(problems, "reports.fr: ", "unknown key"));
  CHECK(has_problem(problems, "reports.en: ", "is empty, expected a non-empty report"));
  CHECK(has_problem(problems, "images[0].eye: ", "expected \"OD\" or \"OS\""));
  CHECK(has_problem(problems, "id: ", "is missing"));
}

TEST_CASE("label rules: gradable modalities only, ungradable within imaged, cup_disc agrees with vertical_cdr") {
  EyeLabels eye;
  eye.imaged = {Modality::Cfp, Modality::Oct};
  eye.ungradable = {Modality::Oct, Modality::Osa};
  eye.findings = {Finding::Microaneurysms, Finding::SubretinalFluid, Finding::GlandDropout};
  eye.grades = {{GradeScale::Icdr, 1}, {GradeScale::OctClass, 3}, {GradeScale::CupDisc, 0}};
  eye.vertical_cdr = 0.72;
  std::vector<std::string> problems;
  label_rule_problems(eye, "labels.OS", problems);
  INFO("problems:" << listed(problems));
  CHECK(problems.size() == 5);
  CHECK(has_problem(problems, "labels.OS.ungradable: ", "'osa', which is not imaged"));
  CHECK(has_problem(problems, "labels.OS.findings: ", "'subretinal_fluid' is seen on oct but the eye's oct was ungradable"));
  CHECK(has_problem(problems, "labels.OS.findings: ", "'gland_dropout' is seen on osa but the eye's osa was not imaged"));
  CHECK(has_problem(problems, "labels.OS.grades.oct_class: ", "is graded on oct but the eye's oct was ungradable"));
  CHECK(has_problem(problems, "labels.OS.grades.cup_disc: ", "expected level 2"));
}

TEST_CASE("study rules: one image per eye and modality, labels for exactly the imaged eyes and modalities") {
  Random rng(11);
  Study study = test::random_study(rng, "r");
  study.images = {{"a.png", Modality::Cfp, Eye::OD, ""}, {"b.png", Modality::Cfp, Eye::OD, ""}};
  study.labels.eyes.clear();
  study.labels.eyes[Eye::OD] = test::random_eye_labels(rng, {Modality::Cfp, Modality::Oct});
  study.labels.eyes[Eye::OS] = test::random_eye_labels(rng, {Modality::Osa});
  std::vector<std::string> problems;
  study_rule_problems(study, "", problems);
  INFO("problems:" << listed(problems));
  CHECK(problems.size() == 3);
  CHECK(has_problem(problems, "images[1]: ", "a second cfp image of OD"));
  CHECK(has_problem(problems, "labels.OD.imaged: ", "is [cfp, oct], expected [cfp]"));
  CHECK(has_problem(problems, "labels.OS: ", "labels an eye without images"));
}

TEST_CASE("lesion marks read back; a bad mark is refused naming its field, and a mark must fit its eye's labels") {
  const json image = json::parse(R"({"path": "a.jpg", "modality": "cfp", "eye": "OD", "lesions": [
      {"finding": "microaneurysms", "x": 10.5, "y": 20.25, "r": 2},
      {"finding": "drusen", "x": 1, "y": 2, "r": 3},
      {"finding": "hard_exudates", "x": -1, "y": "7", "r": 0},
      {"finding": "microaneurysms", "x": 1, "y": 2, "radius": 3},
      7]})");
  std::vector<std::string> problems;
  const StudyImage read = study_image_from_json(image, "images[0]", problems);
  INFO("problems:" << listed(problems));
  CHECK(has_problem(problems, "images[0].lesions[1].finding: ", "unknown finding 'drusen'"));
  CHECK(has_problem(problems, "images[0].lesions[2].x: ", "is the number -1, expected a pixel coordinate in [0, 1e6]"));
  CHECK(has_problem(problems, "images[0].lesions[2].y: ", "expected a pixel coordinate"));
  CHECK(has_problem(problems, "images[0].lesions[2].r: ", "is the number 0, expected a pixel radius in (0, 1e6]"));
  CHECK(has_problem(problems, "images[0].lesions[3]", "radius"));
  CHECK(has_problem(problems, "images[0].lesions[4]: ", "expected a lesion mark {finding, x, y, r}"));
  REQUIRE(read.lesions.has_value());
  REQUIRE(read.lesions->size() == 1);  // only the clean mark
  CHECK(read.lesions->at(0).finding == Finding::Microaneurysms);
  CHECK(read.lesions->at(0).x == 10.5);
  CHECK(read.lesions->at(0).y == 20.25);
  CHECK(read.lesions->at(0).radius == 2);

  problems.clear();
  CHECK_FALSE(study_image_from_json(json::parse(R"({"path": "a.jpg", "modality": "cfp", "eye": "OD"})"), "", problems)
                  .lesions.has_value());  // not annotated
  CHECK(study_image_from_json(json::parse(R"({"path": "a.jpg", "modality": "cfp", "eye": "OD", "lesions": []})"), "",
                              problems)
            .lesions->empty());  // annotated: nothing to mark
  CHECK(problems.empty());

  Random rng(3);
  Study study = test::random_study(rng, "m");
  study.images = {{"a.png", Modality::Cfp, Eye::OD, "", std::vector<LesionMark>{{Finding::SubretinalFluid, 5, 5, 2},
                                                                                {Finding::CottonWoolSpots, 5, 5, 9}}}};
  study.labels.eyes.clear();
  study.labels.eyes[Eye::OD] = test::random_eye_labels(rng, {Modality::Cfp});
  auto& findings = study.labels.eyes[Eye::OD].findings;
  findings.erase(std::remove(findings.begin(), findings.end(), Finding::CottonWoolSpots), findings.end());
  study_rule_problems(study, "", problems);
  INFO("problems:" << listed(problems));
  CHECK(problems.size() == 2);
  CHECK(has_problem(problems, "images[0].lesions[0].finding: ", "'subretinal_fluid' is seen on oct, expected a finding of the image's modality cfp"));
  CHECK(has_problem(problems, "images[0].lesions[1].finding: ", "marks 'cotton_wool_spots', which the labels of OD do not hold"));
}

TEST_CASE("a reader's finding list holds findings of its modality, each once, and names each bad element") {
  std::vector<std::string> problems;
  const auto read = finding_list_from_json(json::parse(R"(["rim_thinning", "disc_haemorrhage"])"), Modality::Cfp,
                                           "r.findings", problems);
  CHECK(problems.empty());
  CHECK(read == std::vector<Finding>{Finding::RimThinning, Finding::DiscHaemorrhage});  // as given

  const auto partly = finding_list_from_json(
      json::parse(R"(["disc_haemorrhage", "drusen_everywhere", "subretinal_fluid", "disc_haemorrhage", 7])"),
      Modality::Cfp, "r.findings", problems);
  CHECK(partly == std::vector<Finding>{Finding::DiscHaemorrhage});
  REQUIRE(problems.size() == 4);
  CHECK(has_problem(problems, "r.findings[1]: ", "unknown finding 'drusen_everywhere'"));
  CHECK(has_problem(problems, "r.findings[2]: ", "'subretinal_fluid' is a finding of OCT images, expected a CFP finding"));
  CHECK(has_problem(problems, "r.findings[3]: ", "'disc_haemorrhage' is repeated"));
  CHECK(has_problem(problems, "r.findings[4]: ", "is the number 7, expected one of the CFP finding codes"));

  for (const char* value : {"[]", "\"rim_thinning\"", "null"}) {
    problems.clear();
    CHECK(finding_list_from_json(json::parse(value), Modality::Osa, "r.findings", problems).empty());
    REQUIRE_MESSAGE(problems.size() == 1, value);
    CHECK_MESSAGE(has_problem(problems, "r.findings: ", "expected a"), problems[0]);
  }
}

TEST_CASE("the throwing readers raise InvalidFormat listing every problem under the caller's name") {
  json j = valid_eye();
  j["referral"] = "later";
  j["findings"] = {"drusen"};
  const Error e = test::error_from([&] { eye_labels_from_json_or_throw(j, "report.json"); });
  test::check_message(e, ErrorCode::InvalidFormat, "report.json: 2 problems:");
  test::check_message(e, ErrorCode::InvalidFormat, "\nreport.json: referral: unknown referral urgency 'later'");
  test::check_message(e, ErrorCode::InvalidFormat, "\nreport.json: findings[0]: unknown finding 'drusen'");
  CHECK(study_labels_from_json_or_throw(json{{"OD", valid_eye()}}, "x").eyes.at(Eye::OD).grades.size() == 2);
}
