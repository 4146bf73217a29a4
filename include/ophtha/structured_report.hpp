// The structured report: the machine-readable twin of a written report, for applications that
// store, display or score diagnoses. Schema: docs/reports.md ("Structured report") and
// docs/structured_report.schema.json (Draft 2020-12).
//
//   {"schema": "ophtha.structured_report/1",
//    "language": "en",
//    "eyes": {"OD": {<eye labels JSON of study_json.hpp: findings, grades, vertical_cdr, imaged,
//                     ungradable, referral>,
//                    "diagnosis": [{"scale": "icdr", "level": 2, "level_name": "moderate NPDR",
//                                   "text": "moderate non-proliferative diabetic retinopathy"}, ...],
//                    "follow_up_months": 6,
//                    "recommendation": "refer to an ophthalmologist within 3 months. ..."},
//             "OS": {...}},
//    "referral": "urgent",            // the most urgent over the eyes
//    "follow_up_months": 3,           // the shortest over the eyes
//    "disclaimer": "..."}             // the demo model is trained on synthetic images
//
// Each eye object is the eye labels JSON (so findings and grades are spelled exactly as in the
// manifest) plus three presentation fields; "diagnosis" lists one entry per grade, in scale
// order, with the English level name of study.hpp and the diagnosis in the report's language.
//
// Thread safety: pure functions; any thread.
#pragma once
#include <string_view>

#include <nlohmann/json.hpp>

#include "ophtha/export.h"
#include "ophtha/study.hpp"

namespace ophtha {

inline constexpr const char* kStructuredReportSchema = "ophtha.structured_report/1";

// Months until the eye should next be examined, the shortest interval its state calls for
// (ADA follow-up table, paper_and_peers.md §4.2; RetinaVLM referral rules §4.3):
//   icdr        none/mild 12, moderate 6, severe 3, PDR 3
//   areds       1–2: 12, intermediate 6, advanced 3
//   cup_disc    normal 12, early 6, moderate 3, severe 1
//   oct_class   normal 12, drusen 6, DME 1, CNV 1
//   meiboscore  upper + lower >= 3: 3, else 12
//   an ungradable image: 1 (repeat imaging); nothing graded: 12
OPHTHA_API int follow_up_months(const EyeLabels& eye);

// The structured report of `labels` in `lang` ("zh" or "en": the language of the diagnosis and
// recommendation texts). Errors: Error(InvalidArgument) for another language.
OPHTHA_API nlohmann::json structured_report(const StudyLabels& labels, std::string_view lang);

// The labels a structured report states (its "eyes"). Checks the whole object and throws one
// Error(InvalidFormat) listing every problem as "structured report: FIELD: what was wrong,
// expected ...", e.g. "structured report: eyes.OD.grades.icdr: is 7, expected an integer level
// 0..4 of icdr": a missing or unknown key, a wrong schema, eye labels that the reader of
// study_json.hpp rejects, a diagnosis entry that disagrees with the grades, a referral that is not
// the most urgent of the eyes'. Presentation texts are not checked beyond their type.
OPHTHA_API StudyLabels labels_from_structured_report(const nlohmann::json& report);

}  // namespace ophtha
