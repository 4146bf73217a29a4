// Writing manifests: the whole list at once, or one study at a time (ophtha/manifest.hpp).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "ophtha/error.hpp"
#include "ophtha/manifest.hpp"
#include "ophtha/mapped_file.hpp"
#include "ophtha/study_json.hpp"

namespace ophtha {

namespace {

// The line of one study, or Error(InvalidArgument) listing its problems. `ids` maps the ids
// already written to their study index; the study's id is added on success.
std::string manifest_line(const Study& study, size_t position, std::unordered_map<std::string, size_t>& ids) {
  std::vector<std::string> problems;
  study_rule_problems(study, "", problems);
  if (auto it = ids.find(study.id); it != ids.end() && !study.id.empty())
    problems.push_back(fmt::format("id: '{}' was already used by study {}, expected unique ids", study.id, it->second));
  std::string line;
  if (problems.empty()) {
    try {
      line = to_json(study).dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
    } catch (const nlohmann::json::exception& e) {
      problems.push_back(fmt::format("a text is not valid UTF-8 ({}), expected UTF-8 strings", e.what()));
    }
  }
  if (!problems.empty()) {
    std::string list;
    for (const std::string& p : problems) list += fmt::format("\nstudy {} (id '{}'): {}", position, study.id, p);
    fail(ErrorCode::InvalidArgument, "cannot write study {} (id '{}') to a manifest, {} problem{}:{}", position,
         study.id, problems.size(), problems.size() == 1 ? "" : "s", list);
  }
  ids.emplace(study.id, position);
  line += '\n';
  return line;
}

}  // namespace

void write_manifest(const std::string& path, const std::vector<Study>& studies) {
  std::unordered_map<std::string, size_t> ids;
  std::string text;
  for (size_t i = 0; i < studies.size(); ++i) text += manifest_line(studies[i], i, ids);
  AtomicFileWriter file(path);
  file.write(text.data(), text.size());
  file.commit();
}

ManifestWriter::ManifestWriter(const std::string& path)
    : path_(path), file_(std::make_unique<AtomicFileWriter>(path)) {}

ManifestWriter::~ManifestWriter() = default;

void ManifestWriter::append(const Study& study) {
  if (!file_) fail(ErrorCode::InvalidArgument, "{}: append after commit", path_);
  const std::string line = manifest_line(study, count_, ids_);
  file_->write(line.data(), line.size());
  ++count_;
}

void ManifestWriter::commit() {
  if (!file_) fail(ErrorCode::InvalidArgument, "{}: commit after commit", path_);
  file_->commit();
  file_.reset();
}

}  // namespace ophtha
