// Reference reports written from ground-truth labels, in Chinese or English: the text a
// clinician would write for a study, and the terse line an instrument prints for one image.
// docs/reports.md shows the structure, the variety and generated examples.
//
// A report follows ../shared/research/paper_and_peers.md §4.8:
//   per modality, per eye ("both eyes (OU)" / "双眼" when the eyes agree on that modality):
//     image quality · findings (lesions with location, quadrant or size words) ·
//     measurements (vertical C/D, meiboscore)
//   impression, per eye or OU: diagnosis with its grade on the named scale ("ICDR moderate NPDR",
//     "AREDS category 3", "vertical C/D 0.72", "meiboscore upper 2 / lower 1", "Kermany class CNV")
//   recommendation, per eye or OU: referral urgency and follow-up interval (ADA table,
//     RetinaVLM referral rules; see structured_report.hpp follow_up_months)
// An ungradable image is reported as ungradable with "repeat imaging", and nothing is said of its
// findings. The wording varies with `rng` (synonyms, sentence order, templates), yet every report
// states every label exactly, so that extract_labels_from_text (report_extractor.hpp) reads the
// labels back: that round trip is pinned by tests/unit/report/test_report_round_trip.cpp.
//
// Thread safety: pure functions; `rng` is advanced (one thread per Random). The same labels and
// the same rng state give the same text on every platform.
// Errors: Error(InvalidArgument) for a language other than "zh" / "en", labels that break the
// rules of study.hpp in a way the text cannot state (a grade outside its scale, a vertical C/D
// outside [0, 1]), or an instrument line asked for a modality the eye has no image of.
#pragma once
#include <string>
#include <string_view>

#include "ophtha/export.h"
#include "ophtha/random.hpp"
#include "ophtha/study.hpp"

namespace ophtha {

// The reference report of a study (UTF-8; paragraphs separated by "\n").
OPHTHA_API std::string write_report(const StudyLabels& labels, std::string_view lang, Random& rng);

// What an instrument prints for one image of `eye` taken with `modality`, e.g.
//   "CFP OD: microaneurysms; dot-blot haemorrhages; C/D 0.45; quality good"
//   "眼底彩照 右眼：微动脉瘤；点片状出血；杯盘比 0.45；图像质量良好"
// (findings of that modality only; "quality poor, ungradable" for an ungradable image).
OPHTHA_API std::string write_instrument_findings(const EyeLabels& labels, Eye eye, Modality modality,
                                                 std::string_view lang, Random& rng);

// The words the writer names `finding` with first ("cotton-wool spots", "棉絮斑"): the
// phrasebook's first written form, which extract_labels_from_text reads as that finding.
// Error(InvalidArgument) for a language other than "zh" / "en".
OPHTHA_API std::string finding_phrase(Finding finding, std::string_view lang);

}  // namespace ophtha
