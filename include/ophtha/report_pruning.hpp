// A report's list items pruned: those that only name a finding again, and those that state only
// findings the evidence reads absent. Both cut a line into the same items and mend its punctuation
// the same way; neither adds or rewrites a word.
//
// Repeats. The items of a line's lists that only repeat what the line already said go
// ("微动脉瘤、玻璃体积血、视盘新生血管（NVD）、玻璃体积血。" → "微动脉瘤、玻璃体积血、视盘新生血管（NVD）。";
// "Hard exudates, microaneurysms and hard exudates at the macula." → "Hard exudates and
// microaneurysms."), as do those of a line's clauses and sentences that only grade an eye again on
// a scale the line already graded it on, at the same level ("AREDS category 4; ICDR PDR; AREDS
// category 4." → "AREDS category 4; ICDR PDR."; ReportReading::grade_repetitions). Reference
// reports never repeat a finding or a grade; drafts of a small language model often do, and a
// clinician reads the repeat as carelessness. An item goes when, read after everything kept before
// it (read_report, report_extractor.hpp), it adds a repetition (of a finding or a grade) and
// changes nothing the report states — no new finding, grade, eye, modality, C/D or referral. So
// the labels read from the text never change; an item that repeats one finding and names another
// stays, as does a grade stated again at another level.
//
// Unsupported findings. An item goes when, read after everything kept before it, all it adds are
// findings of eyes whose evidence reads them absent — the evidence (report_consensus.hpp
// add_evidence: the auxiliary heads' reading of each image, the instruments' findings text) holds
// a gradable image or findings text of the finding's modality for that eye and does not hold the
// finding ("Right eye (OD) fundus photograph: microaneurysms, cotton-wool spots and hard
// exudates." with no cotton-wool spots in the evidence of the right eye's photograph → "...:
// microaneurysms and hard exudates."). An item that also states a supported finding, a grade, an
// eye, a modality, C/D or a referral stays whole, as does every finding of an eye or modality the
// evidence did not read (an ungradable image, an examination it has no image or text of). So the
// labels read from the text lose exactly the unsupported findings of the items that went, and
// gain nothing.
//
// Items. A line is cut into items at list separators ("、" "," "及" "和" "以及" " and ", and the
// boundaries "。" "." "：" ":" "；" ";" and "，", which ends a denial's scope as the extractor reads
// it; "及" inside "累及", "涉及", "波及", "危及" and "." or "," between digits do not cut). A piece
// that names nothing on its own belongs to a neighbour ("点状及斑状出血", "dot and blot
// haemorrhages" stay one item); one that names a finding without stating it (a denial) is an item
// of its own, never dropped. Punctuation is mended where an item goes: with the item its
// separator; the last item of a list hands its conjunction to the one before ("A、B及C" without C
// is "A及B"); the first item of a sentence hands its place to the next (whose separator goes, and
// whose first letter is capitalised after a full stop); a sentence left empty goes with its full
// stop, and a clause left empty at a sentence's end with its own separator ("X; <dropped>. Y" is
// "X. Y"). Lines, line breaks and everything not dropped are kept byte for byte. A guard: a line whose
// pruned form would read otherwise than described above (a new contradiction, a lost grade) is
// kept as it was.
//
// Thread safety: pure functions; any thread. Errors: Error(InvalidArgument) for a language other
// than "zh", "en" or "auto" (as read_report).
#pragma once
#include <string>
#include <string_view>

#include "ophtha/export.h"
#include "ophtha/study.hpp"

namespace ophtha {

OPHTHA_API std::string drop_repeated_mentions(std::string_view report, std::string_view lang = "auto");

// Whether `evidence` reads `finding` absent in `eye`: it holds the eye with a gradable image or
// findings text of the finding's modality (EyeLabels::imaged less ::ungradable) and not the finding.
OPHTHA_API bool evidence_reads_absent(const StudyLabels& evidence, Eye eye, Finding finding);

// `report` without the list items that state only findings `evidence` reads absent (above).
OPHTHA_API std::string drop_unsupported_findings(std::string_view report, const StudyLabels& evidence,
                                                 std::string_view lang = "auto");

}  // namespace ophtha
