// The JSON form of the clinical vocabulary (ophtha/study.hpp): the labels of one eye and of a
// study, a study image and a whole study. The manifest (ophtha/manifest.hpp) holds one study per
// line in this form, and the structured report embeds the same labels JSON, so this header is the
// one place that says how labels are spelled. docs/formats.md ("Study manifest") and
// docs/manifest.schema.json describe the same JSON.
//
//   eye labels   {"findings": ["microaneurysms", ...], "grades": {"icdr": 2, ...},
//                 "vertical_cdr": 0.45, "imaged": ["cfp", "oct"], "ungradable": [],
//                 "referral": "soon"}
//                 findings, grades, imaged, ungradable, referral are required; vertical_cdr is
//                 optional (absent or null = not measured). Codes are the exact snake_case codes
//                 of study.hpp ("cfp", not "CFP"); a grade is an integer level 0 .. levels-1 of
//                 its scale (an integral number such as 2.0 is accepted, as JSON does not tell
//                 2 from 2.0); vertical_cdr is a number in [0, 1].
//   study labels {"OD": {eye labels}, "OS": {eye labels}}: the imaged eyes only.
//   study image  {"path": "...", "modality": "cfp", "eye": "OD", "findings_text": "..."}:
//                 findings_text is optional (written only when non-empty).
//   study        {"id": "...", "images": [...], "labels": {...}, "reports": {"zh": ..., "en": ...},
//                 "split": "train" | "val" | "test"}; reports may be empty, languages are "zh" and
//                 "en", each report a non-empty string.
//
// Writers put findings, imaged and ungradable in enum order and omit an absent vertical_cdr.
//
// Readers never stop at the first problem: each appends one line per problem to `problems`,
// "FIELD: what was wrong, expected ...", where FIELD is `field_path` followed by the path inside
// the value ("labels.OD.grades.icdr: is 7, expected an integer level 0..4 of icdr"). An unknown
// key is a problem too. Whatever could be read is returned (codes that could not be parsed are
// left out), so a caller may still use a partly broken value; it must look at `problems` to know.
// Readers accept list entries in any order and return them sorted; a repeated entry is a problem.
//
// Two levels of checks:
//   - the *_from_json readers check the JSON itself: types, codes, level ranges, repeats, keys;
//   - label_rule_problems / study_rule_problems check that the values agree with the rules of
//     study.hpp (listed there). study_from_json applies both; eye_labels_from_json and
//     study_labels_from_json only the first, so that predicted labels (a model's structured
//     report) can be read as they are and scored.
//
// Thread safety: pure functions; any thread. Errors: none thrown by the collecting readers; the
// *_or_throw forms throw Error(InvalidFormat) listing every problem, each prefixed by `where`.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ophtha/export.h"
#include "ophtha/study.hpp"

namespace ophtha {

// ---- writers ----
OPHTHA_API nlohmann::json to_json(const EyeLabels& eye);
OPHTHA_API nlohmann::json to_json(const StudyLabels& labels);
OPHTHA_API nlohmann::json to_json(const StudyImage& image);
OPHTHA_API nlohmann::json to_json(const Study& study);

// ---- readers that collect every problem ----
// `field_path` names `j` in the problems ("labels.OS"); "" for a top-level value.
OPHTHA_API EyeLabels eye_labels_from_json(const nlohmann::json& j, const std::string& field_path,
                                          std::vector<std::string>& problems);
OPHTHA_API StudyLabels study_labels_from_json(const nlohmann::json& j, const std::string& field_path,
                                              std::vector<std::string>& problems);
OPHTHA_API StudyImage study_image_from_json(const nlohmann::json& j, const std::string& field_path,
                                            std::vector<std::string>& problems);
// Reads and applies study_rule_problems (image files are not looked at: read_manifest does that).
OPHTHA_API Study study_from_json(const nlohmann::json& j, const std::string& field_path,
                                 std::vector<std::string>& problems);
// A non-empty array of finding codes of `modality`, each once (the findings a second reader of
// the model bundle reads: model_bundle.hpp BundleRegionReader, and the vision stage's
// output.disc_reader.findings), in the array's order. Problems name the element
// ("disc_reader.findings[1]: ..."): not a string, an unknown code, a finding of another modality,
// a repeat; or the value itself when it is not a non-empty array.
OPHTHA_API std::vector<Finding> finding_list_from_json(const nlohmann::json& j, Modality modality,
                                                       const std::string& field_path,
                                                       std::vector<std::string>& problems);

// ---- the rules of study.hpp ----
// One eye's labels (`eye_path` names it, e.g. "labels.OD"):
//   - `imaged` and `ungradable` hold no repeats, and ungradable ⊆ imaged;
//   - findings, grades and vertical_cdr only for modalities that were imaged and are gradable
//     (finding_modality, grade_scale_info(scale).modality; vertical_cdr is a CFP measure);
//   - grades within their scale's levels; vertical_cdr in [0, 1];
//   - when both are present, the cup_disc grade is cup_disc_level(vertical_cdr).
// The referral is not required to equal referral_for(eye): clinicians may refer differently.
OPHTHA_API void label_rule_problems(const EyeLabels& eye, const std::string& eye_path,
                                    std::vector<std::string>& problems);
// A study: a non-empty id; at least one image, each with a non-empty path; at most one image per
// (eye, modality); labels for exactly the eyes that have images, each eye's `imaged` equal to the
// modalities of its images; the rules above for each eye; non-empty reports.
OPHTHA_API void study_rule_problems(const Study& study, const std::string& field_path,
                                    std::vector<std::string>& problems);

// ---- readers that throw ----
// Error(InvalidFormat): "<where>: N problems:\n<where>: FIELD: ...\n..." (every problem listed).
OPHTHA_API EyeLabels eye_labels_from_json_or_throw(const nlohmann::json& j, const std::string& where);
OPHTHA_API StudyLabels study_labels_from_json_or_throw(const nlohmann::json& j, const std::string& where);
OPHTHA_API Study study_from_json_or_throw(const nlohmann::json& j, const std::string& where);

}  // namespace ophtha
