// Reading clinical labels back out of a free-text report, Chinese or English: the findings,
// grades, vertical C/D, imaged and ungradable modalities and referral of each eye. `ophtha eval`
// scores generated reports with it (clinical metrics), and the round trip writer → extractor
// pins that reference reports state their labels exactly.
//
// How it reads (docs/reports.md, "Extractor", lists every rule and limit):
//   - the text is normalised (ASCII lower case, British → American spelling) and scanned
//     left to right for the phrasebook's patterns, the longest match first (so "non-proliferative
//     diabetic retinopathy" is not read as "proliferative diabetic retinopathy", and "视盘出血"
//     not as "出血");
//   - eye words ("right eye", "OD", "双眼", "OU", ...) and modality words ("OCT", "眼底彩照", ...)
//     set the context that later findings belong to, until the next eye or modality word; a
//     sentence that names an eye and a modality marks that modality imaged for that eye;
//   - a negation ("no", "without", "未见", "无", ...) cancels the findings and diagnoses after it
//     up to the end of the clause (". ; :" and "，" end a clause, as do "but" / "但"); "absent",
//     "not seen", "阴性" cancel the finding just before them;
//   - grades come from diagnosis names ("moderate NPDR", "中度非增殖期糖尿病视网膜病变") or a named
//     scale and value ("ICDR grade 2", "AREDS category 3", "Kermany class CNV", "OCT AMD stage:
//     neovascular AMD", "meiboscore upper 2 / lower 1", "vertical C/D 0.72"); ordinal grades
//     stated twice keep the most severe;
//   - a modality that was read and is gradable gets the grades its findings imply when the text
//     names none (implied_level of label_sampler.hpp; cup_disc from the vertical C/D);
//   - a referral is read from each sentence that mentions referral ("refer", "转诊", "就诊"):
//     negated → routine, "urgent"/"immediately"/"尽快" → urgent, "within N months"/"N个月内"
//     (N < 12) or no cue → soon; it applies to the eyes the sentence names, or to every eye
//     when it names none. An eye with no referral sentence is routine. A sentence naming a routine
//     follow-up without a referral ("rescreen in 12 months (routine)", "常规随访") states routine,
//     and a follow-up interval ("review in 6 months", "3个月后复查", "annual") is read for
//     follow_up_conflicts; both apply to the eyes the sentence names, else to those its line
//     named before it, else (a line naming no eye) to every eye.
// Text before any eye word is not assigned to an eye and is ignored.
// A finding both stated and denied for the same eye ("Microaneurysms. No microaneurysms.") counts
// as stated; read_report also lists it as a contradiction, the report's own inconsistency. A
// vertical C/D stated twice with different values keeps the last; read_report lists the eye as a
// C/D conflict.
//
// Thread safety: pure function; any thread (the pattern tables are built once, thread-safely).
// Errors: Error(InvalidArgument) for a language other than "zh", "en" or "auto". A report that
// states nothing gives empty labels, not an error.
#pragma once
#include <string_view>
#include <utility>
#include <vector>

#include "ophtha/export.h"
#include "ophtha/study.hpp"

namespace ophtha {

// `lang` = "zh", "en" or "auto". The extractor always applies both languages' patterns, because
// reports mix them ("右眼 OD", "OCT", "C/D 0.45"); the argument only documents the caller's
// expectation and is validated.
OPHTHA_API StudyLabels extract_labels_from_text(std::string_view report, std::string_view lang = "auto");

// One finding of one eye.
struct EyeFinding {
  Eye eye = Eye::OD;
  Finding finding = Finding::Microaneurysms;
  bool operator==(const EyeFinding& other) const { return eye == other.eye && finding == other.finding; }
};

// What a report states, and where it contradicts or repeats itself.
struct ReportReading {
  StudyLabels labels;  // = extract_labels_from_text of the same text
  // Findings a report both states and denies for one eye, in either order: "OD: microaneurysms,
  // dot-blot haemorrhages. No microaneurysms." or "双眼未见硬性渗出。…右眼：硬性渗出。" (OD). A
  // statement for both eyes and a denial for one contradict each other in that eye only. Sorted by
  // eye, then finding; no repeats.
  std::vector<EyeFinding> contradictions;
  // Eyes given two or more different vertical C/D values (compared at two decimals, as read):
  // "OD: vertical C/D 0.75. … Impression: OD: vertical C/D 0.60." The labels keep the last value
  // (and grade cup_disc from it); this lists the report's inconsistency. Sorted; no repeats.
  std::vector<Eye> cup_disc_conflicts;
  // Findings stated again for an eye after their first mention, once per further mention ("Hard
  // exudates, microaneurysms and hard exudates at the macula."; "OU: drusen. OD: drusen." repeats
  // the right eye's). A name with its synonym in brackets ("soft exudates (cotton-wool spots)",
  // "视网膜内微血管异常（IRMA）") is one mention. Sorted by eye, then finding.
  std::vector<EyeFinding> repetitions;
  // The grades the labels hold only by the fallback (rule 6 in docs/reports.md): a gradable
  // modality graded on no scale of its own in the text gets the level its findings imply
  // ("OD CFP: microaneurysms." holds ICDR 1 and AREDS level 0, stated nowhere). What is left of
  // the labels' grades is what the report states. Sorted by eye, then scale.
  std::vector<std::pair<Eye, GradeScale>> implied_grades;
  // Eyes whose stated referral is not the one the report's own labels for the eye imply
  // (referral_for: "ICDR severe NPDR … refer within 3 months", where severe NPDR is urgent;
  // "routine annual screening" for an eye with a C/D of 0.7). Only an eye some sentence states a
  // referral for counts: an eye the report leaves without a recommendation, read as routine, is
  // no conflict. Sorted.
  std::vector<Eye> referral_conflicts;
  // Eyes whose soonest stated follow-up interval is not the one their labels imply
  // (structured_report.hpp follow_up_months: "Review in 6 months" after severe NPDR, which is 3).
  // The interval a routine recommendation names ("rescreen in 12 months (routine)") is part of
  // saying no referral is due, not a follow-up. Sorted.
  std::vector<Eye> follow_up_conflicts;
  // The eyes a referral or follow-up sentence is about by name — its own eye words, or those its
  // line named before it (not a recommendation in a line naming no eye, which is about every
  // eye). Sorted. A line's recommendations are about these eyes even where the labels, which
  // hold only eyes something was found or graded in, have none (line_refinement.hpp line_subject).
  std::vector<Eye> recommended_eyes;
  // Grades stated again for an eye in a line that already stated them, in another item of it (a
  // clause after ";" or "；", a sentence after "." or "。"), once per further statement: "AREDS
  // category 4; ICDR PDR; AREDS category 4." A diagnosis with its scale ("severe NPDR, ICDR grade
  // 3", "vertical C/D 0.64 (early glaucomatous cupping)") is one statement; a vertical C/D value
  // states the cup_disc scale. Sorted by eye, then scale.
  std::vector<std::pair<Eye, GradeScale>> grade_repetitions;

  // Everything the report says against itself: contradictions, cup_disc_conflicts,
  // referral_conflicts and follow_up_conflicts.
  size_t inconsistencies() const {
    return contradictions.size() + cup_disc_conflicts.size() + referral_conflicts.size() + follow_up_conflicts.size();
  }
};

// Whether `line` opens one of a report's summary sections rather than describing images: it
// begins (after spaces) with a heading the extractor reads as a section's — "Impression",
// "Diagnosis", "Assessment", "Conclusion", "Recommendation(s)", "Plan", "Advice", "诊断", "印象",
// "结论", "建议", "处理意见", "随访建议", "诊断意见" (any case; an English one as a whole word).
OPHTHA_API bool opens_summary_section(std::string_view line);

// extract_labels_from_text, and the report's contradictions and repetitions, read in one pass.
// Same errors.
OPHTHA_API ReportReading read_report(std::string_view report, std::string_view lang = "auto");

}  // namespace ophtha
