// The structured report (ophtha/structured_report.hpp): it carries the labels exactly, lists a
// diagnosis per grade and a follow-up per eye, carries the disclaimer, and its reader names the
// field of every problem.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ophtha/label_sampler.hpp"
#include "ophtha/structured_report.hpp"
#include "ophtha/study_json.hpp"
#include "support/expect_error.hpp"

namespace {

using namespace ophtha;
using nlohmann::json;

json sample_report(uint64_t seed, const char* lang) {
  Random rng(seed);
  return structured_report(sample_study_labels(rng), lang);
}

std::string reading_error(const json& report) {
  const Error e = test::error_from([&] { labels_from_structured_report(report); });
  CHECK(e.code() == ErrorCode::InvalidFormat);
  return e.what();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("structured reports read back to exactly the labels they were written from, through the JSON text") {
  for (uint64_t i = 0; i < 1000; ++i) {
    Random rng = Random(21).fork(i);
    const StudyLabels labels = sample_study_labels(rng);
    for (const char* lang : {"en", "zh"}) {
      const json report = json::parse(structured_report(labels, lang).dump());
      REQUIRE_MESSAGE(to_json(labels_from_structured_report(report)) == to_json(labels), report.dump());
    }
  }
}

TEST_CASE("each eye lists a diagnosis per grade on its named scale, a follow-up and a recommendation") {
  EyeLabels e;
  e.imaged = {Modality::Cfp, Modality::Oct};
  e.findings = {Finding::Microaneurysms, Finding::IntraretinalFluid};
  e.grades = {{GradeScale::Icdr, 1}, {GradeScale::Areds, 0}, {GradeScale::CupDisc, 0}, {GradeScale::OctClass, 2}};
  e.vertical_cdr = 0.3;
  e.referral = referral_for(e);
  StudyLabels labels;
  labels.eyes[Eye::OS] = e;
  const json en = structured_report(labels, "en");
  CHECK(en["schema"] == kStructuredReportSchema);
  CHECK(en["referral"] == "urgent");  // DME on OCT
  CHECK(en["follow_up_months"] == 1);
  const json& os = en["eyes"]["OS"];
  CHECK(os["findings"] == json::array({"microaneurysms", "intraretinal_fluid"}));
  CHECK(os["diagnosis"].size() == 4);
  CHECK(os["diagnosis"][0] == json({{"scale", "icdr"}, {"level", 1}, {"level_name", "mild NPDR"},
                                    {"text", "mild non-proliferative diabetic retinopathy"}}));
  CHECK(os["diagnosis"][3]["text"] == "OCT: Kermany class DME");
  CHECK(contains(os["recommendation"], "urgent referral"));
  CHECK(contains(en["disclaimer"], "synthetic"));
  const json zh = structured_report(labels, "zh");
  CHECK(zh["eyes"]["OS"]["diagnosis"][0]["text"] == "轻度非增殖期糖尿病视网膜病变");
  CHECK(contains(zh["eyes"]["OS"]["recommendation"], "转诊"));
}

TEST_CASE("follow-up months follow the ADA table: the shortest interval the eye calls for") {
  EyeLabels e;
  CHECK(follow_up_months(e) == 12);
  e.grades = {{GradeScale::Icdr, 2}};
  CHECK(follow_up_months(e) == 6);
  e.grades[GradeScale::Icdr] = 4;
  CHECK(follow_up_months(e) == 3);
  e.grades[GradeScale::CupDisc] = 3;
  CHECK(follow_up_months(e) == 1);
  EyeLabels meibo;
  meibo.grades = {{GradeScale::MeiboscoreUpper, 2}, {GradeScale::MeiboscoreLower, 1}};
  CHECK(follow_up_months(meibo) == 3);
  EyeLabels ungradable;
  ungradable.imaged = ungradable.ungradable = {Modality::Oct};
  CHECK(follow_up_months(ungradable) == 1);
}

TEST_CASE("problems are listed with the field they are in") {
  json report = sample_report(3, "en");
  const std::string eye = report["eyes"].begin().key();
  json broken = report;
  broken["eyes"][eye]["grades"]["icdr"] = 7;
  CHECK(contains(reading_error(broken), "eyes." + eye + ".grades.icdr: "));
  broken = report;
  broken.erase("disclaimer");
  CHECK(contains(reading_error(broken), "has no \"disclaimer\""));
  broken = report;
  broken["schema"] = "other/2";
  CHECK(contains(reading_error(broken), "schema: is \"other/2\""));
  broken = report;
  broken["eyes"]["OU"] = json::object();
  CHECK(contains(reading_error(broken), "eyes.OU: unknown eye"));
  broken = report;
  broken["eyes"][eye]["diagnosis"].push_back({{"scale", "icdr"}, {"level", 9}});
  broken["eyes"][eye]["grades"]["icdr"] = 1;
  const std::string message = reading_error(broken);
  CHECK(contains(message, "eyes." + eye + ".diagnosis["));
  broken = report;
  broken["referral"] = report["referral"] == "routine" ? "urgent" : "routine";
  CHECK(contains(reading_error(broken), "the most urgent of the eyes' referrals"));
  CHECK(contains(reading_error(json::array()), "expected an object"));
}

TEST_CASE("the keys ophtha report adds (model, text, image_checks, dropped_findings, drafts, chosen) are read past, type-checked") {
  json report = sample_report(5, "zh");
  const StudyLabels expected = labels_from_structured_report(report);
  report["model"] = "ophtha-demo";
  report["text"] = "眼科影像检查报告";
  report["image_checks"] = json::array({{{"modality", "cfp"}, {"eye", "OD"}, {"looks_like", "cfp"},
                                         {"looks_like_probability", 0.99}, {"gradable_probability", 0.98}, {"used", true}}});
  report["dropped_findings"] = json::array({{{"eye", "OS"}, {"finding", "cotton_wool_spots"}}});
  report["drafts"] = json::array({"眼科影像检查报告", "眼科影像报告"});
  report["chosen"] = 0;
  CHECK(to_json(labels_from_structured_report(report)) == to_json(expected));
  json broken = report;
  broken["dropped_findings"] = json::array({{{"eye", "OU"}, {"finding", "cotton_wool_spots"}}});
  CHECK(contains(reading_error(broken), "dropped_findings[0]: is {\"eye\":\"OU\""));
  broken["dropped_findings"] = json::array({{{"eye", "OD"}, {"finding", "spots"}}});
  CHECK(contains(reading_error(broken), "dropped_findings[0]"));
  broken["dropped_findings"] = "none";
  CHECK(contains(reading_error(broken), "dropped_findings: is a JSON string, expected an array"));
  broken = report;
  broken["chosen"] = -1;
  CHECK(contains(reading_error(broken), "chosen: is -1, expected a draft's index"));
  broken = report;
  broken["text"] = 3;
  CHECK(contains(reading_error(broken), "text: is 3, expected a string"));
  broken = report;
  broken["image_checks"] = "none";
  CHECK(contains(reading_error(broken), "image_checks: is a JSON string, expected an array"));
  broken = report;
  broken["comment"] = "x";
  CHECK(contains(reading_error(broken), "comment: unknown key"));
}

TEST_CASE("an unsupported language is refused") {
  const Error e = test::error_from([] { structured_report(StudyLabels{}, "fr"); });
  CHECK(e.code() == ErrorCode::InvalidArgument);
}

TEST_CASE("docs/structured_report.schema.json (python3-jsonschema) accepts written reports and refuses broken ones") {
  namespace fs = std::filesystem;
  const fs::path folder = fs::path(OPHTHA_TEST_WORK_DIR) / "structured-report-schema";
  fs::create_directories(folder);
  std::vector<std::pair<json, bool>> cases;  // report, valid
  for (uint64_t i = 0; i < 100; ++i) {
    const json report = sample_report(100 + i, i % 2 ? "zh" : "en");
    cases.push_back({report, true});
    json broken = report;
    const std::string eye = report["eyes"].begin().key();
    switch (i % 4) {
      case 0: broken["eyes"][eye]["grades"]["icdr"] = 5; break;
      case 1: broken.erase("disclaimer"); break;
      case 2: broken["eyes"][eye]["findings"].push_back("cataract"); break;
      default: broken["eyes"][eye]["referral"] = "later";
    }
    cases.push_back({broken, false});
  }
  {
    std::ofstream out(folder / "reports.jsonl");
    for (const auto& [report, valid] : cases) out << report.dump() << "\n";
  }
  const std::string command = std::string("/usr/bin/python3 '") + OPHTHA_SOURCE_DIR + "/tests/tools/manifest_schema_check.py' '" +
                              OPHTHA_SOURCE_DIR + "/docs/structured_report.schema.json' '" + (folder / "reports.jsonl").string() +
                              "' '" + (folder / "verdicts.json").string() + "'";
  REQUIRE_MESSAGE(std::system(command.c_str()) == 0, "the schema check failed (needs Debian's python3-jsonschema): " << command);
  std::ifstream in(folder / "verdicts.json");
  const json verdicts = json::parse(in);
  REQUIRE(verdicts.size() == cases.size());
  for (size_t i = 0; i < cases.size(); ++i)
    CHECK_MESSAGE(verdicts[i]["valid"].get<bool>() == cases[i].second, verdicts[i]["errors"].dump() << "\n" << cases[i].first.dump());
}
