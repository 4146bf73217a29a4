// Reading a predictions file line by line, recording malformed lines instead of stopping
// (ophtha/evaluation.hpp).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "ophtha/error.hpp"
#include "ophtha/evaluation.hpp"
#include "study/json_fields.hpp"

namespace ophtha {

namespace {

using nlohmann::json;
using study_detail::describe;
using study_detail::ObjectFields;

// Whether the UTF-8 text holds a CJK ideograph (U+3400..U+9FFF, U+F900..U+FAFF, U+20000..).
bool has_cjk(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b >= 0xE3 && b <= 0xE9 && i + 2 < text.size()) {
      const uint32_t cp = ((b & 0x0Fu) << 12) | ((static_cast<unsigned char>(text[i + 1]) & 0x3Fu) << 6) |
                          (static_cast<unsigned char>(text[i + 2]) & 0x3Fu);
      if (cp >= 0x3400 && cp <= 0x9FFF) return true;
    }
    if (b == 0xEF && i + 2 < text.size()) {
      const uint32_t cp = ((b & 0x0Fu) << 12) | ((static_cast<unsigned char>(text[i + 1]) & 0x3Fu) << 6) |
                          (static_cast<unsigned char>(text[i + 2]) & 0x3Fu);
      if (cp >= 0xF900 && cp <= 0xFAFF) return true;
    }
    if (b == 0xF0 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0xA0) return true;
  }
  return false;
}

}  // namespace

PredictionFile read_predictions(const std::string& path, const std::string& default_lang) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorCode::Io, "{}: cannot open the predictions file: {}", path, std::strerror(errno));
  PredictionFile file;
  file.path = path;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    ++file.lines;
    std::vector<std::string> problems;
    Prediction p;
    p.line = number;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      std::string what = e.what();
      if (what.rfind("[json.exception.", 0) == 0) what = what.substr(what.find(']') + 2);
      problems.push_back(fmt::format("(line): not valid JSON ({}), expected one JSON object per line", what));
    }
    if (problems.empty()) {
      ObjectFields fields(j, "", "a prediction {id, lang?, report, structured?, drafts?, chosen?}", problems);
      fields.allow({"id", "lang", "report", "structured", "drafts", "chosen"});
      if (const json* v = fields.required("id")) {
        if (v->is_string() && !v->get<std::string>().empty())
          p.id = v->get<std::string>();
        else
          problems.push_back(fmt::format("id: is {}, expected a study id string", describe(*v)));
      }
      if (const json* v = fields.required("report")) {
        if (v->is_string())
          p.report = v->get<std::string>();
        else
          problems.push_back(fmt::format("report: is {}, expected the generated report text", describe(*v)));
      }
      if (const json* v = fields.optional("lang")) {
        if (v->is_string() && (*v == "zh" || *v == "en"))
          p.lang = v->get<std::string>();
        else
          problems.push_back(fmt::format("lang: is {}, expected \"zh\" or \"en\"", describe(*v)));
      } else {
        p.lang = !default_lang.empty() ? default_lang : (has_cjk(p.report) ? "zh" : "en");
      }
      if (const json* v = fields.optional("structured"); v && !v->is_null()) {
        if (v->is_object())
          p.structured = *v;
        else
          problems.push_back(fmt::format("structured: is {}, expected the structured report object", describe(*v)));
      }
      // `ophtha report --drafts` adds every draft and the chosen one's index: not scored, but checked.
      const json* drafts = fields.optional("drafts");
      if (drafts && !(drafts->is_array() && std::all_of(drafts->begin(), drafts->end(), [](const json& d) { return d.is_string(); })))
        problems.push_back(fmt::format("drafts: is {}, expected an array of draft texts", describe(*drafts)));
      if (const json* v = fields.optional("chosen")) {
        const size_t n = drafts && drafts->is_array() ? drafts->size() : 0;
        if (n == 0)
          problems.push_back("chosen: given without a non-empty drafts array, expected the index of one of its drafts");
        else if (!v->is_number_unsigned() || v->get<uint64_t>() >= n)
          problems.push_back(fmt::format("chosen: is {}, expected the index of a draft, 0 to {}", describe(*v), n - 1));
      }
    }
    if (problems.empty()) {
      file.predictions.push_back(std::move(p));
    } else {
      std::string joined;
      for (const std::string& problem : problems) joined += (joined.empty() ? "" : "; ") + problem;
      file.malformed.push_back(fmt::format("{}:{}: {}", path, number, joined));
    }
  }
  if (in.bad()) fail(ErrorCode::Io, "{}: reading the predictions failed: {}", path, std::strerror(errno));
  return file;
}

}  // namespace ophtha
