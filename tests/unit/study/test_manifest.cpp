// The study manifest (ophtha/manifest.hpp): atomic writing, reading that lists every problem as
// FILE:LINE: FIELD, and agreement with docs/manifest.schema.json as python3-jsonschema reads it.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ophtha/manifest.hpp"
#include "ophtha/study_json.hpp"
#include "support/expect_error.hpp"
#include "unit/study/random_studies.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ophtha;

// A fresh folder under the test work folder.
fs::path fresh_folder(const std::string& name) {
  const fs::path folder = fs::path(OPHTHA_TEST_WORK_DIR) / "manifest" / name;
  fs::remove_all(folder);
  fs::create_directories(folder / "images");
  return folder;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Random studies whose image files exist (empty files: the manifest reader only checks existence).
std::vector<Study> studies_with_images(const fs::path& folder, int n, uint64_t seed) {
  Random rng(seed);
  std::vector<Study> studies;
  for (int i = 0; i < n; ++i) {
    studies.push_back(test::random_study(rng, "study-" + std::to_string(seed) + "-" + std::to_string(i)));
    for (const StudyImage& image : studies.back().images) write_text(folder / image.path, "");
  }
  return studies;
}

std::string read_error(const fs::path& manifest) {
  const Error e = test::error_from([&] { read_manifest(manifest.string()); });
  CHECK(e.code() == ErrorCode::InvalidFormat);
  return e.what();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a written manifest reads back study for study, with line numbers and resolved image paths") {
  const fs::path folder = fresh_folder("round-trip");
  const std::vector<Study> studies = studies_with_images(folder, 40, 5);
  const std::string path = (folder / "manifest.jsonl").string();
  write_manifest(path, studies);
  const Manifest manifest = read_manifest(path);
  REQUIRE(manifest.studies.size() == studies.size());
  for (size_t i = 0; i < studies.size(); ++i) {
    test::check_same_study(studies[i], manifest.studies[i]);
    CHECK(manifest.line_numbers[i] == i + 1);
  }
  const Study* found = manifest.find(studies[17].id);
  REQUIRE(found != nullptr);
  CHECK(found->id == studies[17].id);
  CHECK(manifest.find("no-such-study") == nullptr);
  CHECK(manifest.image_path(studies[0].images[0]) == folder.string() + "/" + studies[0].images[0].path);
  CHECK(fs::exists(manifest.image_path(studies[0].images[0])));
  // One study per line, each line a JSON object.
  std::istringstream lines(read_text(path));
  std::string line;
  size_t count = 0;
  while (std::getline(lines, line)) CHECK(json::parse(line).at("id") == studies[count++].id);
  CHECK(count == studies.size());
}

TEST_CASE("the streaming writer shows nothing until commit, and leaves the old file when dropped") {
  const fs::path folder = fresh_folder("streaming");
  const std::vector<Study> studies = studies_with_images(folder, 25, 6);
  const fs::path path = folder / "manifest.jsonl";
  {
    ManifestWriter writer(path.string());
    for (const Study& s : studies) writer.append(s);
    CHECK(writer.count() == studies.size());
    CHECK_FALSE(fs::exists(path));
    writer.commit();
    CHECK_THROWS_AS(writer.append(studies[0]), Error);
  }
  const std::string committed = read_text(path);
  CHECK(read_manifest(path.string()).studies.size() == studies.size());
  {
    ManifestWriter dropped(path.string());
    dropped.append(studies[0]);
  }
  CHECK(read_text(path) == committed);
  size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(folder)) entries += entry.is_regular_file();
  CHECK_MESSAGE(entries == 1, "a temporary file was left next to the manifest");
}

TEST_CASE("writing refuses repeated ids and studies that break the label rules, before writing anything") {
  const fs::path folder = fresh_folder("write-refusals");
  std::vector<Study> studies = studies_with_images(folder, 3, 8);
  const fs::path path = folder / "manifest.jsonl";
  write_text(path, "old\n");
  studies[2].id = studies[0].id;
  test::check_message(test::error_from([&] { write_manifest(path.string(), studies); }), ErrorCode::InvalidArgument,
                      "study 2 (id '" + studies[0].id + "'): id: '" + studies[0].id + "' was already used by study 0");
  studies[2].id = "fresh";
  studies[1].labels.eyes.begin()->second.ungradable.push_back(Modality::Osa);
  studies[1].labels.eyes.begin()->second.imaged.erase(
      std::remove(studies[1].labels.eyes.begin()->second.imaged.begin(),
                  studies[1].labels.eyes.begin()->second.imaged.end(), Modality::Osa),
      studies[1].labels.eyes.begin()->second.imaged.end());
  test::check_message(test::error_from([&] { write_manifest(path.string(), studies); }), ErrorCode::InvalidArgument,
                      "'osa', which is not imaged");
  ManifestWriter writer(path.string());
  CHECK_THROWS_AS(writer.append(studies[1]), Error);
  CHECK(writer.count() == 0);
  CHECK(read_text(path) == "old\n");
}

TEST_CASE("reading lists the problems of every line as FILE:LINE: FIELD, skipping blank lines") {
  const fs::path folder = fresh_folder("read-problems");
  std::vector<Study> studies = studies_with_images(folder, 4, 9);
  std::vector<std::string> lines;
  for (const Study& s : studies) lines.push_back(to_json(s).dump());
  json bad_code = json::parse(lines[1]);
  bad_code["split"] = "dev";
  json missing_image = json::parse(lines[2]);
  missing_image["images"][0]["path"] = "images/gone.png";
  json repeated_id = json::parse(lines[3]);
  repeated_id["id"] = studies[0].id;
  const std::string path = (folder / "m.jsonl").string();
  write_text(path, lines[0] + "\r\n\n   \n" + bad_code.dump() + "\n{not json\n" + missing_image.dump() + "\n" +
                       repeated_id.dump() + "\n" + R"({"id": "a", "id": "b"})" + "\n");
  const std::string message = read_error(path);
  INFO(message);
  CHECK(contains(message, path + ":4: split: unknown split 'dev'"));
  CHECK(contains(message, path + ":5: (line): not valid JSON"));
  CHECK(contains(message, path + ":6: images[0].path: image file '" + folder.string() + "/images/gone.png' cannot be found"));
  CHECK(contains(message, path + ":7: id: '" + studies[0].id + "' is already the id of line 1, expected unique ids"));
  CHECK(contains(message, path + ":8: \"id\": the key appears twice in one object"));
  CHECK_FALSE(contains(message, path + ":1:"));
  // Line 8 also lacks images, labels, reports and split: 5 problems there, 4 on lines 4-7.
  CHECK(contains(message, path + ":8: split: is missing"));
  CHECK(contains(message, path + ": 9 problems in the manifest:"));
}

TEST_CASE("reading lists at most 100 problems and counts the rest") {
  const fs::path folder = fresh_folder("problem-cap");
  std::string text;
  for (int i = 0; i < 130; ++i) text += "[]\n";
  write_text(folder / "m.jsonl", text);
  const std::string message = read_error(folder / "m.jsonl");
  CHECK(contains(message, ": 130 problems in the manifest:"));
  CHECK(contains(message, ":100: (top level): is an array"));
  CHECK_FALSE(contains(message, ":101: "));
  CHECK(contains(message, "\n... and 30 more problems"));
}

TEST_CASE("an empty manifest is valid; a missing one is an Io error") {
  const fs::path folder = fresh_folder("empty");
  write_text(folder / "m.jsonl", "");
  CHECK(read_manifest((folder / "m.jsonl").string()).studies.empty());
  test::check_message(test::error_from([&] { read_manifest((folder / "none.jsonl").string()); }), ErrorCode::Io,
                      "none.jsonl: cannot open the manifest");
}

TEST_CASE("the schema's code lists are the vocabulary of study.hpp") {
  std::ifstream in(std::string(OPHTHA_SOURCE_DIR) + "/docs/manifest.schema.json");
  const json schema = json::parse(in);
  const json& defs = schema.at("$defs");
  std::vector<std::string> findings;
  for (int f = 0; f < kFindingCount; ++f) findings.push_back(finding_code(static_cast<Finding>(f)));
  CHECK(defs.at("finding").at("enum").get<std::vector<std::string>>() == findings);
  const json& grades = defs.at("eye_labels").at("properties").at("grades").at("properties");
  CHECK(grades.size() == static_cast<size_t>(kGradeScaleCount));
  for (int s = 0; s < kGradeScaleCount; ++s) {
    const GradeScaleInfo& info = grade_scale_info(static_cast<GradeScale>(s));
    CHECK_MESSAGE(grades.at(info.code).at("maximum") == info.levels - 1, info.code);
  }
}

// ---- schema agreement ----

namespace {

using Mutation = std::function<bool(json&)>;  // false: does not apply to this study

json& first_eye(json& study) { return study["labels"].begin().value(); }

// Changes that the schema can see: the schema and the reader must both refuse the line.
std::vector<std::pair<std::string, Mutation>> schema_visible_breakages() {
  std::vector<std::pair<std::string, Mutation>> out;
  auto set = [&out](const std::string& name, std::function<json&(json&)> at, const std::string& key, json value) {
    out.emplace_back(name, [at, key, value](json& s) {
      at(s)[key] = value;
      return true;
    });
  };
  auto drop = [&out](const std::string& name, std::function<json&(json&)> at, const std::string& key) {
    out.emplace_back(name, [at, key](json& s) { return at(s).erase(key) == 1; });
  };
  auto top = [](json& s) -> json& { return s; };
  auto image = [](json& s) -> json& { return s["images"][0]; };
  auto eye = [](json& s) -> json& { return first_eye(s); };
  auto grades = [](json& s) -> json& { return first_eye(s)["grades"]; };
  auto reports = [](json& s) -> json& { return s["reports"]; };
  for (const char* key : {"id", "images", "labels", "reports", "split"}) drop(std::string("no ") + key, top, key);
  set("unknown top key", top, "notes", "x");
  set("numeric id", top, "id", 5);
  set("empty id", top, "id", "");
  set("images object", top, "images", json::object());
  set("no images", top, "images", json::array());
  for (const char* key : {"path", "modality", "eye"}) drop(std::string("image without ") + key, image, key);
  set("empty path", image, "path", "");
  set("numeric path", image, "path", 3);
  set("upper-case modality", image, "modality", "CFP");
  set("unknown modality", image, "modality", "fundus");
  set("lower-case eye", image, "eye", "od");
  set("eye OU", image, "eye", "OU");
  set("numeric findings_text", image, "findings_text", 1);
  set("unknown image key", image, "quality", "good");
  set("lesions object", image, "lesions", json::object());
  set("lesion mark without r", image, "lesions", json::parse(R"([{"finding": "microaneurysms", "x": 1, "y": 2}])"));
  set("lesion mark of an unknown finding", image, "lesions", json::parse(R"([{"finding": "spot", "x": 1, "y": 2, "r": 1}])"));
  set("lesion mark at x -1", image, "lesions", json::parse(R"([{"finding": "microaneurysms", "x": -1, "y": 2, "r": 1}])"));
  set("lesion mark of radius 0", image, "lesions", json::parse(R"([{"finding": "microaneurysms", "x": 1, "y": 2, "r": 0}])"));
  set("lesion mark with a string y", image, "lesions", json::parse(R"([{"finding": "microaneurysms", "x": 1, "y": "2", "r": 1}])"));
  set("lesion mark with an unknown key", image, "lesions",
      json::parse(R"([{"finding": "microaneurysms", "x": 1, "y": 2, "r": 1, "area": 3}])"));
  set("labels array", top, "labels", json::array());
  out.emplace_back("labels for OU", [](json& s) {
    s["labels"]["OU"] = first_eye(s);
    return true;
  });
  for (const char* key : {"findings", "grades", "imaged", "ungradable", "referral"}) drop(std::string("eye without ") + key, eye, key);
  set("findings string", eye, "findings", "microaneurysms");
  set("unknown finding", eye, "findings", {"drusen"});
  set("repeated finding", eye, "findings", {"microaneurysms", "microaneurysms"});
  set("grades array", eye, "grades", json::array());
  set("unknown scale", grades, "dr", 1);
  set("icdr 5", grades, "icdr", 5);
  set("icdr -1", grades, "icdr", -1);
  set("icdr 1.5", grades, "icdr", 1.5);
  set("icdr string", grades, "icdr", "2");
  set("icdr boolean", grades, "icdr", true);
  set("meiboscore 4", grades, "meiboscore_lower", 4);
  set("vertical_cdr 1.01", eye, "vertical_cdr", 1.01);
  set("vertical_cdr -0.1", eye, "vertical_cdr", -0.1);
  set("vertical_cdr string", eye, "vertical_cdr", "0.5");
  set("repeated imaged", eye, "imaged", {"cfp", "cfp"});
  set("imaged string", eye, "imaged", "cfp");
  set("unknown ungradable", eye, "ungradable", {"xyz"});
  set("unknown referral", eye, "referral", "later");
  set("null referral", eye, "referral", nullptr);
  set("unknown eye key", eye, "dme", 1);
  set("reports array", top, "reports", json::array());
  set("french report", reports, "fr", "rapport");
  set("numeric report", reports, "en", 5);
  set("empty report", reports, "zh", "");
  set("unknown split", top, "split", "dev");
  set("null split", top, "split", nullptr);
  out.emplace_back("line is an array", [](json& s) {
    s = json::array({s});
    return true;
  });
  out.emplace_back("line is a string", [](json& s) {
    s = "study";
    return true;
  });
  return out;
}

// Changes that keep the line valid for both.
std::vector<std::pair<std::string, Mutation>> harmless_changes() {
  return {
      {"unchanged", [](json&) { return true; }},
      {"an empty lesion list", [](json& s) { s["images"][0]["lesions"] = json::array(); return true; }},
      {"a grade written as 2.0",
       [](json& s) {
         for (auto& [eye, labels] : s["labels"].items())
           for (auto& [scale, level] : labels["grades"].items()) {
             level = level.get<double>();
             return true;
           }
         return false;
       }},
      {"null vertical_cdr",
       [](json& s) {
         for (auto& [eye, labels] : s["labels"].items())
           if (labels.contains("vertical_cdr") && !labels["grades"].contains("cup_disc")) {
             labels["vertical_cdr"] = nullptr;
             return true;
           }
         return false;
       }},
      {"no reports", [](json& s) { s["reports"] = json::object(); return true; }},
      {"unicode id", [](json& s) { s["id"] = s["id"].get<std::string>() + "-病例"; return true; }},
  };
}

// Changes only the reader can see (cross-field rules, files): the schema accepts the line.
std::vector<std::pair<std::string, Mutation>> reader_only_breakages() {
  return {
      {"missing image file", [](json& s) { s["images"][0]["path"] = "images/none.png"; return true; }},
      {"a lesion mark of another modality's finding",
       [](json& s) {
         const std::string modality = s["images"][0]["modality"];
         s["images"][0]["lesions"] = json::array(
             {{{"finding", modality == "oct" ? "microaneurysms" : "subretinal_fluid"}, {"x", 1}, {"y", 1}, {"r", 1}}});
         return true;
       }},
      {"second image of the same eye and modality",
       [](json& s) { s["images"].push_back(s["images"][0]); return true; }},
      {"labels for an eye without images",
       [](json& s) {
         if (s["labels"].size() == 2) return false;
         s["labels"][s["labels"].contains("OD") ? "OS" : "OD"] = first_eye(s);
         return true;
       }},
      {"imaged differs from the images",
       [](json& s) {
         json& imaged = first_eye(s)["imaged"];
         if (imaged.size() == 3) return false;
         for (const char* m : {"cfp", "oct", "osa"})
           if (std::find(imaged.begin(), imaged.end(), m) == imaged.end()) {
             imaged.push_back(m);
             return true;
           }
         return false;
       }},
      {"ungradable not imaged",
       [](json& s) {
         json& eye = first_eye(s);
         for (const char* m : {"cfp", "oct", "osa"})
           if (std::find(eye["imaged"].begin(), eye["imaged"].end(), m) == eye["imaged"].end()) {
             eye["ungradable"].push_back(m);
             return true;
           }
         return false;
       }},
      {"cup_disc disagrees with vertical_cdr",
       [](json& s) {
         for (auto& [eye, labels] : s["labels"].items())
           if (labels["grades"].contains("cup_disc")) {
             labels["grades"]["cup_disc"] = (labels["grades"]["cup_disc"].get<int>() + 1) % 4;
             return true;
           }
         return false;
       }},
      {"finding of a modality not imaged",
       [](json& s) {
         json& eye = first_eye(s);
         if (std::find(eye["imaged"].begin(), eye["imaged"].end(), "osa") != eye["imaged"].end()) return false;
         eye["findings"].push_back("ghost_glands");
         return true;
       }},
  };
}

}  // namespace

TEST_CASE("docs/manifest.schema.json (python3-jsonschema) and read_manifest agree on generated lines") {
  const fs::path folder = fresh_folder("schema-agreement");
  const std::vector<Study> bases = studies_with_images(folder, 6, 12);
  struct Case {
    std::string name;
    std::string line;
    bool schema_valid, reader_valid;  // expected
  };
  std::vector<Case> cases;
  auto add_all = [&](const std::vector<std::pair<std::string, Mutation>>& mutations, bool schema_ok, bool reader_ok) {
    for (const Study& base : bases)
      for (const auto& [name, mutate] : mutations) {
        json line = to_json(base);
        if (mutate(line)) cases.push_back({name + " (" + base.id + ")", line.dump(), schema_ok, reader_ok});
      }
  };
  add_all(schema_visible_breakages(), false, false);
  add_all(harmless_changes(), true, true);
  add_all(reader_only_breakages(), true, false);
  REQUIRE(cases.size() > 300);

  std::string all;
  for (size_t i = 0; i < cases.size(); ++i) {
    all += cases[i].line + "\n";
    write_text(folder / ("case-" + std::to_string(i) + ".jsonl"), cases[i].line + "\n");
  }
  write_text(folder / "all.jsonl", all);
  const char* python = std::getenv("OPHTHA_PYTHON");
  const std::string command = std::string("'") + (python ? python : "/usr/bin/python3") + "' '" + OPHTHA_SOURCE_DIR +
                              "/tests/tools/manifest_schema_check.py' '" + OPHTHA_SOURCE_DIR +
                              "/docs/manifest.schema.json' '" + (folder / "all.jsonl").string() + "' '" +
                              (folder / "verdicts.json").string() + "'";
  REQUIRE_MESSAGE(std::system(command.c_str()) == 0, "the schema check failed (needs Debian's python3-jsonschema): ",
                  command);
  const json verdicts = json::parse(read_text(folder / "verdicts.json"));
  REQUIRE(verdicts.size() == cases.size());
  size_t both_refuse = 0, both_accept = 0, reader_only = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const bool schema_valid = verdicts[i].at("valid").get<bool>();
    const std::string reader_message =
        test::error_message_or_empty([&] { read_manifest((folder / ("case-" + std::to_string(i) + ".jsonl")).string()); });
    const bool reader_valid = reader_message.empty();
    CHECK_MESSAGE(schema_valid == c.schema_valid, c.name, ": the schema says ", schema_valid ? "valid" : "invalid",
                  " ", verdicts[i].at("errors").dump(), "\nline: ", c.line);
    CHECK_MESSAGE(reader_valid == c.reader_valid, c.name, ": the reader says ",
                  reader_valid ? "valid" : reader_message, "\nline: ", c.line);
    both_refuse += !schema_valid && !reader_valid;
    both_accept += schema_valid && reader_valid;
    reader_only += schema_valid && !reader_valid;
  }
  MESSAGE("schema agreement: ", cases.size(), " lines, both refuse ", both_refuse, ", both accept ", both_accept,
          ", only the reader refuses (cross-field rules, files) ", reader_only);
}
