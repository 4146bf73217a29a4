// Field paths and object checks for the JSON readers that collect every problem instead of
// stopping at the first (study_json.cpp, manifest_reader.cpp, the evaluation's prediction reader).
// Each problem is one line "FIELD: what was wrong, expected ...".
#pragma once
#include <initializer_list>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ophtha::study_detail {

// "labels" + "OD" -> "labels.OD"; "" + "id" -> "id".
inline std::string child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}
// "images" + 2 -> "images[2]".
inline std::string index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }
// How a path is shown at the start of a problem: the top-level value is "(top level)".
inline const std::string& shown(const std::string& path) {
  static const std::string top = "(top level)";
  return path.empty() ? top : path;
}

// A short description of a JSON value for messages: `a string "abc"`, `the number 7`, `an array`.
inline std::string describe(const nlohmann::json& j) {
  auto clip = [](std::string text) { return text.size() > 40 ? text.substr(0, 37) + "..." : text; };
  switch (j.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::boolean: return j.get<bool>() ? "true" : "false";
    case nlohmann::json::value_t::string: return "the string " + clip(j.dump());
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float: return "the number " + clip(j.dump());
    default: return "an unreadable value";
  }
}

// The members of one JSON object: whether it is an object at all, which keys are unknown, which
// required keys are missing. Problems are appended as they are found.
class ObjectFields {
 public:
  ObjectFields(const nlohmann::json& j, std::string path, std::string expected, std::vector<std::string>& problems)
      : j_(j), path_(std::move(path)), expected_(std::move(expected)), problems_(problems) {
    if (!j_.is_object()) problems_.push_back(shown(path_) + ": is " + describe(j_) + ", expected " + expected_);
  }

  // Every key not in `known` is a problem.
  void allow(std::initializer_list<const char*> known) {
    if (!j_.is_object()) return;
    std::string list;
    for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    for (const auto& item : j_.items()) {
      bool ok = false;
      for (const char* k : known) ok = ok || item.key() == k;
      if (!ok) problems_.push_back(child(path_, item.key()) + ": unknown key, expected only " + list);
    }
  }
  // The member, or nullptr with a problem when it is missing.
  const nlohmann::json* required(const char* key) {
    if (!j_.is_object()) return nullptr;
    auto it = j_.find(key);
    if (it != j_.end()) return &*it;
    problems_.push_back(child(path_, key) + ": is missing, expected it in " + expected_);
    return nullptr;
  }
  // The member, or nullptr when it is missing.
  const nlohmann::json* optional(const char* key) const {
    if (!j_.is_object()) return nullptr;
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }

 private:
  const nlohmann::json& j_;
  std::string path_, expected_;
  std::vector<std::string>& problems_;
};

}  // namespace ophtha::study_detail
