// Labels, images and studies to and from JSON, collecting every problem (ophtha/study_json.hpp).
#include "ophtha/study_json.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "ophtha/error.hpp"
#include "study/json_fields.hpp"

namespace ophtha {

using nlohmann::json;
using study_detail::child;
using study_detail::describe;
using study_detail::index;
using study_detail::ObjectFields;

namespace {

constexpr Modality kModalities[] = {Modality::Cfp, Modality::Oct, Modality::Osa};
constexpr Eye kEyes[] = {Eye::OD, Eye::OS};
constexpr const char* kLanguages[] = {"zh", "en"};

template <typename T, typename Code>
json codes_of(const std::vector<T>& values, Code code) {
  json out = json::array();
  for (T v : values) out.push_back(code(v));
  return out;
}

// A JSON number that is a whole number (2 or 2.0), as `int`.
std::optional<int> integral(const json& j) {
  if (j.is_number_integer()) {
    const auto v = j.get<int64_t>();
    if (v < -1000000 || v > 1000000) return std::nullopt;
    return static_cast<int>(v);
  }
  if (j.is_number_float()) {
    const double v = j.get<double>();
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) <= 1e6) return static_cast<int>(v);
  }
  return std::nullopt;
}

// Exact codes (the parsers of modality.hpp also accept upper case; the JSON does not).
std::optional<Modality> modality_of(const std::string& code) {
  for (Modality m : kModalities)
    if (code == modality_name(m)) return m;
  return std::nullopt;
}
std::optional<Eye> eye_of(const std::string& code) {
  for (Eye e : kEyes)
    if (code == eye_name(e)) return e;
  return std::nullopt;
}

// Reads an array of codes; `parse` returns the value or appends a problem and returns nullopt.
// Repeats are problems; the result is sorted by enum value, or in the array's order with `keep_order`.
template <typename T, typename Parse>
std::vector<T> code_list(const json& j, const std::string& path, const char* expected,
                         std::vector<std::string>& problems, Parse parse, bool keep_order = false) {
  std::vector<T> out;
  if (!j.is_array()) {
    problems.push_back(fmt::format("{}: is {}, expected an array of {}", path, describe(j), expected));
    return out;
  }
  std::set<T> seen;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string at = index(path, i);
    if (!j[i].is_string()) {
      problems.push_back(fmt::format("{}: is {}, expected one of the {}", at, describe(j[i]), expected));
      continue;
    }
    const std::optional<T> value = parse(j[i].get<std::string>(), at);
    if (!value) continue;
    if (!seen.insert(*value).second) {
      problems.push_back(fmt::format("{}: '{}' is repeated, expected each at most once", at,
                                     j[i].get<std::string>()));
      continue;
    }
    out.push_back(*value);
  }
  if (!keep_order) std::sort(out.begin(), out.end());
  return out;
}

// Wraps a parser of study.hpp that throws Error(InvalidArgument) into one that records a problem.
template <typename T, typename Throwing>
auto recording(std::vector<std::string>& problems, Throwing parse) {
  return [&problems, parse](const std::string& code, const std::string& at) -> std::optional<T> {
    try {
      return parse(code);
    } catch (const Error& e) {
      problems.push_back(fmt::format("{}: {}", at, e.what()));
      return std::nullopt;
    }
  };
}

std::optional<Modality> read_modality(const json& j, const std::string& path, std::vector<std::string>& problems) {
  if (j.is_string())
    if (auto m = modality_of(j.get<std::string>())) return m;
  problems.push_back(fmt::format("{}: is {}, expected a modality \"cfp\", \"oct\" or \"osa\"", path, describe(j)));
  return std::nullopt;
}

std::vector<Modality> modality_list(const json& j, const std::string& path, std::vector<std::string>& problems) {
  return code_list<Modality>(j, path, "modality codes \"cfp\", \"oct\", \"osa\"", problems,
                             [&problems](const std::string& code, const std::string& at) {
                               auto m = modality_of(code);
                               if (!m)
                                 problems.push_back(fmt::format(
                                     "{}: unknown modality '{}', expected \"cfp\", \"oct\" or \"osa\"", at, code));
                               return m;
                             });
}

bool gradable(const EyeLabels& eye, Modality m) {
  auto in = [m](const std::vector<Modality>& list) { return std::find(list.begin(), list.end(), m) != list.end(); };
  return in(eye.imaged) && !in(eye.ungradable);
}

void check_non_empty_string(const std::string& value, const std::string& path, const char* what,
                            std::vector<std::string>& problems) {
  if (value.empty()) problems.push_back(fmt::format("{}: is empty, expected {}", path, what));
}

// id, images and reports that must not be empty (shared by the reader and study_rule_problems).
void check_non_empty_parts(const Study& study, const std::string& path, std::vector<std::string>& problems) {
  check_non_empty_string(study.id, child(path, "id"), "a non-empty study id", problems);
  if (study.images.empty())
    problems.push_back(fmt::format("{}: is empty, expected at least one image", child(path, "images")));
  for (size_t i = 0; i < study.images.size(); ++i)
    check_non_empty_string(study.images[i].path, child(index(child(path, "images"), i), "path"),
                           "a non-empty image path", problems);
  for (const auto& [language, text] : study.reports)
    check_non_empty_string(text, child(child(path, "reports"), language), "a non-empty report", problems);
}

// Images against labels: one image per (eye, modality); labels for exactly the eyes with images;
// each eye's `imaged` = the modalities of its images.
void check_images_against_labels(const Study& study, const std::string& path, std::vector<std::string>& problems) {
  std::map<Eye, std::vector<Modality>> imaged;
  for (size_t i = 0; i < study.images.size(); ++i) {
    const StudyImage& image = study.images[i];
    auto& list = imaged[image.eye];
    if (std::find(list.begin(), list.end(), image.modality) != list.end()) {
      problems.push_back(fmt::format("{}: a second {} image of {}, expected at most one image per eye and modality",
                                     index(child(path, "images"), i), modality_name(image.modality),
                                     eye_name(image.eye)));
      continue;
    }
    list.push_back(image.modality);
  }
  const std::string labels_path = child(path, "labels");
  for (auto& [eye, modalities] : imaged) {
    std::sort(modalities.begin(), modalities.end());
    auto it = study.labels.eyes.find(eye);
    if (it == study.labels.eyes.end()) {
      problems.push_back(fmt::format("{}: has no labels for {}, expected labels for every eye with images",
                                     labels_path, eye_name(eye)));
      continue;
    }
    if (it->second.imaged != modalities) {
      std::vector<std::string> have, want;
      for (Modality m : it->second.imaged) have.push_back(modality_name(m));
      for (Modality m : modalities) want.push_back(modality_name(m));
      problems.push_back(fmt::format("{}: is [{}], expected [{}], the modalities of the study's {} images",
                                     child(child(labels_path, eye_name(eye)), "imaged"), fmt::join(have, ", "),
                                     fmt::join(want, ", "), eye_name(eye)));
    }
  }
  for (const auto& [eye, labels] : study.labels.eyes)
    if (!imaged.count(eye))
      problems.push_back(fmt::format("{}: labels an eye without images, expected labels only for imaged eyes",
                                     child(labels_path, eye_name(eye))));
  // Lesion marks: of the image's modality, and of findings its eye's labels hold.
  for (size_t i = 0; i < study.images.size(); ++i) {
    const StudyImage& image = study.images[i];
    if (!image.lesions) continue;
    const auto eye = study.labels.eyes.find(image.eye);
    for (size_t k = 0; k < image.lesions->size(); ++k) {
      const Finding f = (*image.lesions)[k].finding;
      const std::string at = child(index(child(index(child(path, "images"), i), "lesions"), k), "finding");
      if (finding_modality(f) != image.modality)
        problems.push_back(fmt::format("{}: '{}' is seen on {}, expected a finding of the image's modality {}", at,
                                       finding_code(f), modality_name(finding_modality(f)),
                                       modality_name(image.modality)));
      else if (eye != study.labels.eyes.end() && !eye->second.has(f))
        problems.push_back(fmt::format("{}: marks '{}', which the labels of {} do not hold", at, finding_code(f),
                                       eye_name(image.eye)));
    }
  }
}

}  // namespace

// ---- writers ----

json to_json(const EyeLabels& eye) {
  json grades = json::object();
  for (const auto& [scale, level] : eye.grades) grades[grade_scale_info(scale).code] = level;
  json out = {
      {"findings", codes_of(eye.findings, finding_code)},
      {"grades", std::move(grades)},
      {"imaged", codes_of(eye.imaged, modality_name)},
      {"ungradable", codes_of(eye.ungradable, modality_name)},
      {"referral", referral_code(eye.referral)},
  };
  if (eye.vertical_cdr) out["vertical_cdr"] = *eye.vertical_cdr;
  return out;
}

json to_json(const StudyLabels& labels) {
  json out = json::object();
  for (const auto& [eye, eye_labels] : labels.eyes) out[eye_name(eye)] = to_json(eye_labels);
  return out;
}

json to_json(const StudyImage& image) {
  json out = {{"path", image.path}, {"modality", modality_name(image.modality)}, {"eye", eye_name(image.eye)}};
  if (!image.findings_text.empty()) out["findings_text"] = image.findings_text;
  if (image.lesions) {
    json marks = json::array();
    for (const LesionMark& m : *image.lesions)
      marks.push_back({{"finding", finding_code(m.finding)}, {"x", m.x}, {"y", m.y}, {"r", m.radius}});
    out["lesions"] = std::move(marks);
  }
  return out;
}

json to_json(const Study& study) {
  json images = json::array();
  for (const StudyImage& image : study.images) images.push_back(to_json(image));
  json reports = json::object();
  for (const auto& [language, text] : study.reports) reports[language] = text;
  return {{"id", study.id},
          {"images", std::move(images)},
          {"labels", to_json(study.labels)},
          {"reports", std::move(reports)},
          {"split", split_code(study.split)}};
}

// ---- readers ----

std::vector<Finding> finding_list_from_json(const json& j, Modality modality, const std::string& field_path,
                                            std::vector<std::string>& problems) {
  auto upper = [](Modality m) {  // "CFP", as the modalities are written in prose
    std::string name = modality_name(m);
    for (char& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return name;
  };
  const std::string expected = fmt::format("{} finding codes", upper(modality));
  if (j.is_array() && j.empty()) {
    problems.push_back(fmt::format("{}: is [], expected a non-empty array of {}", field_path, expected));
    return {};
  }
  return code_list<Finding>(
      j, field_path, expected.c_str(), problems,
      [&problems, modality, &upper](const std::string& code, const std::string& at) -> std::optional<Finding> {
        const std::optional<Finding> f = recording<Finding>(problems, parse_finding)(code, at);
        if (f && finding_modality(*f) != modality) {
          problems.push_back(fmt::format("{}: '{}' is a finding of {} images, expected a {} finding", at, code,
                                         upper(finding_modality(*f)), upper(modality)));
          return std::nullopt;
        }
        return f;
      },
      /*keep_order=*/true);
}

EyeLabels eye_labels_from_json(const json& j, const std::string& field_path, std::vector<std::string>& problems) {
  EyeLabels eye;
  ObjectFields fields(j, field_path, "the labels of one eye", problems);
  fields.allow({"findings", "grades", "imaged", "ungradable", "referral", "vertical_cdr"});
  if (const json* v = fields.required("findings"))
    eye.findings = code_list<Finding>(*v, child(field_path, "findings"), "finding codes", problems,
                                      recording<Finding>(problems, parse_finding));
  if (const json* v = fields.required("grades")) {
    const std::string path = child(field_path, "grades");
    if (!v->is_object()) {
      problems.push_back(fmt::format("{}: is {}, expected an object of grading scale code -> level", path,
                                     describe(*v)));
    } else {
      for (const auto& [code, level_json] : v->items()) {
        const std::string at = child(path, code);
        GradeScale scale;
        try {
          scale = parse_grade_scale(code);
        } catch (const Error& e) {
          problems.push_back(fmt::format("{}: {}", at, e.what()));
          continue;
        }
        const GradeScaleInfo& info = grade_scale_info(scale);
        const std::optional<int> level = integral(level_json);
        if (!level || *level < 0 || *level >= info.levels) {
          problems.push_back(fmt::format("{}: is {}, expected an integer level 0..{} of {}", at,
                                         describe(level_json), info.levels - 1, info.code));
          continue;
        }
        eye.grades[scale] = *level;
      }
    }
  }
  if (const json* v = fields.required("imaged")) eye.imaged = modality_list(*v, child(field_path, "imaged"), problems);
  if (const json* v = fields.required("ungradable"))
    eye.ungradable = modality_list(*v, child(field_path, "ungradable"), problems);
  if (const json* v = fields.required("referral")) {
    const std::string at = child(field_path, "referral");
    if (!v->is_string())
      problems.push_back(fmt::format("{}: is {}, expected \"routine\", \"soon\" or \"urgent\"", at, describe(*v)));
    else if (auto r = recording<Referral>(problems, parse_referral)(v->get<std::string>(), at))
      eye.referral = *r;
  }
  if (const json* v = fields.optional("vertical_cdr"); v && !v->is_null()) {
    if (v->is_number() && v->get<double>() >= 0.0 && v->get<double>() <= 1.0)
      eye.vertical_cdr = v->get<double>();
    else
      problems.push_back(fmt::format("{}: is {}, expected a vertical cup-to-disc ratio in [0, 1] or null",
                                     child(field_path, "vertical_cdr"), describe(*v)));
  }
  return eye;
}

StudyLabels study_labels_from_json(const json& j, const std::string& field_path, std::vector<std::string>& problems) {
  StudyLabels labels;
  ObjectFields fields(j, field_path, "an object of eye (\"OD\", \"OS\") -> labels", problems);
  fields.allow({"OD", "OS"});
  for (Eye eye : kEyes)
    if (const json* v = fields.optional(eye_name(eye)))
      labels.eyes[eye] = eye_labels_from_json(*v, child(field_path, eye_name(eye)), problems);
  return labels;
}

std::vector<LesionMark> lesion_marks_from_json(const json& j, const std::string& field_path,
                                               std::vector<std::string>& problems) {
  std::vector<LesionMark> marks;
  if (!j.is_array()) {
    problems.push_back(fmt::format("{}: is {}, expected an array of lesion marks {{finding, x, y, r}}", field_path,
                                   describe(j)));
    return marks;
  }
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string at = index(field_path, i);
    ObjectFields fields(j[i], at, "a lesion mark {finding, x, y, r}", problems);
    fields.allow({"finding", "x", "y", "r"});
    LesionMark mark;
    bool clean = j[i].is_object();
    if (const json* v = fields.required("finding")) {
      const std::optional<Finding> f =
          v->is_string() ? recording<Finding>(problems, parse_finding)(v->get<std::string>(), child(at, "finding"))
                         : std::nullopt;
      if (!v->is_string())
        problems.push_back(fmt::format("{}: is {}, expected a finding code", child(at, "finding"), describe(*v)));
      if (f) mark.finding = *f;
      clean = clean && f.has_value();
    } else {
      clean = false;
    }
    auto number = [&](const char* key, bool positive, double& out) {
      const json* v = fields.required(key);
      if (!v) {
        clean = false;
        return;
      }
      const bool ok = v->is_number() && std::isfinite(v->get<double>()) &&
                      (positive ? v->get<double>() > 0.0 : v->get<double>() >= 0.0) && v->get<double>() <= 1e6;
      if (ok)
        out = v->get<double>();
      else
        problems.push_back(fmt::format("{}: is {}, expected a pixel {} in {}", child(at, key), describe(*v),
                                       positive ? "radius" : "coordinate", positive ? "(0, 1e6]" : "[0, 1e6]"));
      clean = clean && ok;
    };
    number("x", false, mark.x);
    number("y", false, mark.y);
    number("r", true, mark.radius);
    if (clean) marks.push_back(mark);
  }
  return marks;
}

StudyImage study_image_from_json(const json& j, const std::string& field_path, std::vector<std::string>& problems) {
  StudyImage image;
  ObjectFields fields(j, field_path, "an image {path, modality, eye, findings_text?, lesions?}", problems);
  fields.allow({"path", "modality", "eye", "findings_text", "lesions"});
  if (const json* v = fields.required("path")) {
    if (v->is_string()) {
      image.path = v->get<std::string>();
      check_non_empty_string(image.path, child(field_path, "path"), "a non-empty image path", problems);
    } else
      problems.push_back(fmt::format("{}: is {}, expected a file path string", child(field_path, "path"), describe(*v)));
  }
  if (const json* v = fields.required("modality"))
    if (auto m = read_modality(*v, child(field_path, "modality"), problems)) image.modality = *m;
  if (const json* v = fields.required("eye")) {
    const std::optional<Eye> eye = v->is_string() ? eye_of(v->get<std::string>()) : std::nullopt;
    if (eye)
      image.eye = *eye;
    else
      problems.push_back(fmt::format("{}: is {}, expected \"OD\" or \"OS\"", child(field_path, "eye"), describe(*v)));
  }
  if (const json* v = fields.optional("findings_text")) {
    if (v->is_string())
      image.findings_text = v->get<std::string>();
    else
      problems.push_back(fmt::format("{}: is {}, expected a string", child(field_path, "findings_text"), describe(*v)));
  }
  if (const json* v = fields.optional("lesions")) image.lesions = lesion_marks_from_json(*v, child(field_path, "lesions"), problems);
  return image;
}

Study study_from_json(const json& j, const std::string& field_path, std::vector<std::string>& problems) {
  Study study;
  ObjectFields fields(j, field_path, "a study {id, images, labels, reports, split}", problems);
  fields.allow({"id", "images", "labels", "reports", "split"});
  if (const json* v = fields.required("id")) {
    if (v->is_string()) {
      study.id = v->get<std::string>();
      check_non_empty_string(study.id, child(field_path, "id"), "a non-empty study id", problems);
    } else {
      problems.push_back(fmt::format("{}: is {}, expected a study id string", child(field_path, "id"), describe(*v)));
    }
  }
  bool images_clean = false, labels_clean = false;
  if (const json* v = fields.required("images")) {
    const std::string path = child(field_path, "images");
    const size_t before = problems.size();
    if (!v->is_array()) {
      problems.push_back(fmt::format("{}: is {}, expected an array of images", path, describe(*v)));
    } else if (v->empty()) {
      problems.push_back(fmt::format("{}: is empty, expected at least one image", path));
    } else {
      for (size_t i = 0; i < v->size(); ++i) study.images.push_back(study_image_from_json((*v)[i], index(path, i), problems));
    }
    images_clean = problems.size() == before;
  }
  if (const json* v = fields.required("labels")) {
    const std::string path = child(field_path, "labels");
    const size_t before = problems.size();
    study.labels = study_labels_from_json(*v, path, problems);
    labels_clean = problems.size() == before;
    // The rules of an eye are checked once its JSON reads cleanly, so no field is reported twice.
    if (labels_clean)
      for (const auto& [eye, labels] : study.labels.eyes) label_rule_problems(labels, child(path, eye_name(eye)), problems);
  }
  if (const json* v = fields.required("reports")) {
    const std::string path = child(field_path, "reports");
    ObjectFields reports(*v, path, "an object of language (\"zh\", \"en\") -> report text", problems);
    reports.allow({kLanguages[0], kLanguages[1]});
    for (const char* language : kLanguages) {
      const json* text = reports.optional(language);
      if (!text) continue;
      if (text->is_string()) {
        study.reports[language] = text->get<std::string>();
        check_non_empty_string(study.reports[language], child(path, language), "a non-empty report", problems);
      } else
        problems.push_back(fmt::format("{}: is {}, expected the report text", child(path, language), describe(*text)));
    }
  }
  if (const json* v = fields.required("split")) {
    const std::string at = child(field_path, "split");
    if (!v->is_string())
      problems.push_back(fmt::format("{}: is {}, expected \"train\", \"val\" or \"test\"", at, describe(*v)));
    else if (auto s = recording<Split>(problems, parse_split)(v->get<std::string>(), at))
      study.split = *s;
  }
  if (images_clean && labels_clean) check_images_against_labels(study, field_path, problems);
  return study;
}

// ---- rules ----

void label_rule_problems(const EyeLabels& eye, const std::string& eye_path, std::vector<std::string>& problems) {
  auto repeated = [](std::vector<Modality> list) {
    std::sort(list.begin(), list.end());
    return std::adjacent_find(list.begin(), list.end()) != list.end();
  };
  if (repeated(eye.imaged))
    problems.push_back(fmt::format("{}: repeats a modality, expected each at most once", child(eye_path, "imaged")));
  if (repeated(eye.ungradable))
    problems.push_back(fmt::format("{}: repeats a modality, expected each at most once", child(eye_path, "ungradable")));
  for (Modality m : eye.ungradable)
    if (std::find(eye.imaged.begin(), eye.imaged.end(), m) == eye.imaged.end())
      problems.push_back(fmt::format("{}: lists '{}', which is not imaged, expected a subset of imaged",
                                     child(eye_path, "ungradable"), modality_name(m)));
  auto not_gradable = [&eye](Modality m) {
    const bool was_imaged = std::find(eye.imaged.begin(), eye.imaged.end(), m) != eye.imaged.end();
    return fmt::format("the eye's {} was {}, expected labels only for modalities imaged and gradable",
                       modality_name(m), was_imaged ? "ungradable" : "not imaged");
  };
  std::set<Finding> findings_seen;
  for (Finding f : eye.findings) {
    if (!findings_seen.insert(f).second)
      problems.push_back(fmt::format("{}: repeats '{}', expected each finding at most once",
                                     child(eye_path, "findings"), finding_code(f)));
    else if (!gradable(eye, finding_modality(f)))
      problems.push_back(fmt::format("{}: '{}' is seen on {} but {}", child(eye_path, "findings"), finding_code(f),
                                     modality_name(finding_modality(f)), not_gradable(finding_modality(f))));
  }
  for (const auto& [scale, level] : eye.grades) {
    const GradeScaleInfo& info = grade_scale_info(scale);
    const std::string at = child(child(eye_path, "grades"), info.code);
    if (level < 0 || level >= info.levels)
      problems.push_back(fmt::format("{}: is {}, expected an integer level 0..{} of {}", at, level, info.levels - 1,
                                     info.code));
    if (!gradable(eye, info.modality))
      problems.push_back(fmt::format("{}: is graded on {} but {}", at, modality_name(info.modality),
                                     not_gradable(info.modality)));
  }
  if (eye.vertical_cdr) {
    const std::string at = child(eye_path, "vertical_cdr");
    const double cdr = *eye.vertical_cdr;
    if (!(cdr >= 0.0 && cdr <= 1.0))
      problems.push_back(fmt::format("{}: is {}, expected a vertical cup-to-disc ratio in [0, 1]", at, cdr));
    else if (auto it = eye.grades.find(GradeScale::CupDisc);
             it != eye.grades.end() && it->second != cup_disc_level(cdr))
      problems.push_back(fmt::format("{}: cup_disc grade {} disagrees with vertical_cdr {}, expected level {} "
                                     "(0 < 0.55 <= 1 < 0.70 <= 2 < 0.85 <= 3)",
                                     child(child(eye_path, "grades"), "cup_disc"), it->second, cdr,
                                     cup_disc_level(cdr)));
    if (!gradable(eye, Modality::Cfp))
      problems.push_back(fmt::format("{}: is measured on cfp but {}", at, not_gradable(Modality::Cfp)));
  }
}

void study_rule_problems(const Study& study, const std::string& field_path, std::vector<std::string>& problems) {
  check_non_empty_parts(study, field_path, problems);
  check_images_against_labels(study, field_path, problems);
  for (const auto& [eye, labels] : study.labels.eyes)
    label_rule_problems(labels, child(child(field_path, "labels"), eye_name(eye)), problems);
}

// ---- readers that throw ----

namespace {

template <typename T, typename Read>
T read_or_throw(const json& j, const std::string& where, Read read) {
  std::vector<std::string> problems;
  T value = read(j, "", problems);
  if (!problems.empty()) {
    std::string list;
    for (const std::string& p : problems) list += fmt::format("\n{}: {}", where, p);
    fail(ErrorCode::InvalidFormat, "{}: {} problem{}:{}", where, problems.size(), problems.size() == 1 ? "" : "s",
         list);
  }
  return value;
}

}  // namespace

EyeLabels eye_labels_from_json_or_throw(const json& j, const std::string& where) {
  return read_or_throw<EyeLabels>(j, where, eye_labels_from_json);
}
StudyLabels study_labels_from_json_or_throw(const json& j, const std::string& where) {
  return read_or_throw<StudyLabels>(j, where, study_labels_from_json);
}
Study study_from_json_or_throw(const json& j, const std::string& where) {
  return read_or_throw<Study>(j, where, study_from_json);
}

}  // namespace ophtha
