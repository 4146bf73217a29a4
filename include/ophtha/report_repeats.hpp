// A report without the findings it names again: the items of a line's lists that only repeat what
// the line already said go ("微动脉瘤、玻璃体积血、视盘新生血管（NVD）、玻璃体积血。" →
// "微动脉瘤、玻璃体积血、视盘新生血管（NVD）。"; "Hard exudates, microaneurysms and hard exudates at
// the macula." → "Hard exudates and microaneurysms."). Reference reports never repeat a finding;
// drafts of a small language model often do, and a clinician reads the repeat as carelessness.
//
// A line is cut into items at list separators ("、" "," "及" "和" "以及" " and ", and the
// boundaries "。" "." "：" ":" "；" ";" and "，", which ends a denial's scope as the extractor reads
// it; "及" inside "累及", "涉及", "波及", "危及" and "." or "," between digits do not cut). A piece
// that names nothing on its own belongs to a neighbour ("点状及斑状出血", "dot and blot
// haemorrhages" stay one item); one that names a finding without stating it (a denial) is an item
// of its own, never dropped with a repeat. An item goes
// when, read after everything kept before it (read_report, report_extractor.hpp), it adds a
// repetition and changes nothing the report states — no new finding, grade, eye, modality, C/D or
// referral. So the labels read from the text never change; an item that repeats one finding and
// names another stays. Punctuation is mended where an item goes: with the item its separator; the
// last item of a list hands its conjunction to the one before ("A、B及C" without C is "A及B"); the
// first item of a sentence hands its place to the next (whose separator goes, and whose first
// letter is capitalised after a full stop); a sentence left empty goes with its full stop. Lines,
// line breaks and everything that is not a repeat are kept byte for byte. A guard: a line whose
// pruned form would state, deny or contradict anything differently is kept as it was.
//
// Thread safety: pure function; any thread. Errors: Error(InvalidArgument) for a language other
// than "zh", "en" or "auto" (as read_report).
#pragma once
#include <string>
#include <string_view>

#include "ophtha/export.h"

namespace ophtha {

OPHTHA_API std::string drop_repeated_mentions(std::string_view report, std::string_view lang = "auto");

}  // namespace ophtha
