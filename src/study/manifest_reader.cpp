// Reading a manifest, checking every line and listing every problem (ophtha/manifest.hpp).
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "ophtha/error.hpp"
#include "ophtha/manifest.hpp"
#include "ophtha/study_json.hpp"
#include "study/json_fields.hpp"

namespace ophtha {

namespace {

using nlohmann::json;

std::string folder_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Parses one line; a repeated key in any object is a problem (nlohmann would keep the last).
std::optional<json> parse_line(const std::string& line, std::vector<std::string>& problems) {
  std::vector<std::set<std::string>> open;  // keys of each open object or array (arrays stay empty)
  std::set<std::string> repeated;
  auto callback = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start: open.emplace_back(); break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end: open.pop_back(); break;
      case json::parse_event_t::key:
        if (!open.back().insert(parsed.get<std::string>()).second) repeated.insert(parsed.get<std::string>());
        break;
      case json::parse_event_t::value: break;
    }
    return true;
  };
  try {
    json j = json::parse(line, callback);
    for (const std::string& key : repeated)
      problems.push_back(fmt::format("{}: the key appears twice in one object, expected each key once",
                                     json(key).dump()));
    return j;
  } catch (const json::exception& e) {
    std::string what = e.what();
    if (what.rfind("[json.exception.", 0) == 0) what = what.substr(what.find(']') + 2);
    problems.push_back(fmt::format("(line): not valid JSON ({}), expected one JSON object per line", what));
    return std::nullopt;
  }
}

std::string image_problem(const std::string& resolved) {
  struct stat st {};
  if (::stat(resolved.c_str(), &st) != 0)
    return fmt::format("image file '{}' cannot be found ({}), expected an existing file", resolved,
                       std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return fmt::format("'{}' is not a regular file, expected an image file", resolved);
  return {};
}

}  // namespace

const Study* Manifest::find(std::string_view id) const {
  auto it = index.find(std::string(id));
  return it == index.end() ? nullptr : &studies[it->second];
}

std::string Manifest::image_path(const StudyImage& image) const {
  if (!image.path.empty() && image.path.front() == '/') return image.path;
  return folder + "/" + image.path;
}

Manifest read_manifest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorCode::Io, "{}: cannot open the manifest: {}", path, std::strerror(errno));
  Manifest manifest;
  manifest.path = path;
  manifest.folder = folder_of(path);

  std::vector<std::string> all_problems;
  std::string line;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::vector<std::string> problems;
    std::optional<json> j = parse_line(line, problems);
    std::optional<Study> study;
    if (j) study = study_from_json(*j, "", problems);
    if (study) {
      for (size_t i = 0; i < study->images.size(); ++i) {
        if (study->images[i].path.empty()) continue;
        const std::string problem = image_problem(manifest.image_path(study->images[i]));
        if (!problem.empty())
          problems.push_back(fmt::format("images[{}].path: {}", i, problem));
      }
      if (!study->id.empty()) {
        auto [it, fresh] = manifest.index.emplace(study->id, manifest.studies.size());
        if (!fresh)
          problems.push_back(fmt::format("id: '{}' is already the id of line {}, expected unique ids", study->id,
                                         manifest.line_numbers[it->second]));
      }
    }
    for (const std::string& p : problems) all_problems.push_back(fmt::format("{}:{}: {}", path, line_number, p));
    if (study) {
      manifest.studies.push_back(std::move(*study));
      manifest.line_numbers.push_back(line_number);
    }
  }
  if (in.bad()) fail(ErrorCode::Io, "{}: reading the manifest failed: {}", path, std::strerror(errno));
  if (!all_problems.empty()) {
    std::string list;
    const size_t shown = std::min(all_problems.size(), kManifestProblemLimit);
    for (size_t i = 0; i < shown; ++i) list += "\n" + all_problems[i];
    if (all_problems.size() > shown) list += fmt::format("\n... and {} more problems", all_problems.size() - shown);
    fail(ErrorCode::InvalidFormat, "{}: {} problem{} in the manifest:{}", path, all_problems.size(),
         all_problems.size() == 1 ? "" : "s", list);
  }
  return manifest;
}

}  // namespace ophtha
