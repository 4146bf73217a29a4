// The clinical phrasebook shared by the report writer and the report extractor: for every
// finding, modality, eye, diagnosis level, OCT class and OCT AMD stage, the forms the writer may print (in
// English and Chinese) and the patterns the extractor recognises. Keeping both in one table is
// what lets the extractor read back every report the writer can produce.
//
// Patterns are written in the extractor's normalised spelling (normalise_for_matching): lower
// case ASCII, American spelling ("hemorrhage", "edema", "-ization", "color"); a pattern matches
// whole words at its ASCII ends, and an English pattern also matches its plural ("+s", "+es").
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "ophtha/study.hpp"

namespace ophtha::report_detail {

enum class Lang { En, Zh };
// "en" / "zh"; Error(InvalidArgument) naming `where` otherwise.
Lang parse_lang(std::string_view lang, const char* where);

struct Phrases {
  std::vector<std::string> written;     // what the writer may print (British spelling in English)
  std::vector<std::string> recognised;  // what the extractor matches (normalised spelling)
};

struct Bilingual {
  Phrases en, zh;
  const Phrases& operator[](Lang lang) const { return lang == Lang::En ? en : zh; }
};

// The eye groups a report section may speak of.
enum class EyeGroup { OD, OS, OU };

const Bilingual& finding_phrases(Finding finding);
const Bilingual& modality_phrases(Modality modality);
const Bilingual& eye_phrases(EyeGroup group);
// Diagnosis names of the levels of icdr, areds and cup_disc (the ordinal CFP scales).
const Bilingual& level_phrases(GradeScale scale, int level);
// The Kermany class words (0 normal, 1 drusen, 2 DME, 3 CNV), read after a "Kermany class" anchor.
const Bilingual& oct_class_phrases(int oct_class);
// The OCT AMD stage words (oct_amd levels 0..3), read after an "OCT AMD stage" anchor.
const Bilingual& oct_amd_phrases(int stage);

// Lower-cases ASCII and maps British to American spelling, so that one pattern serves both.
std::string normalise_for_matching(std::string_view text);

}  // namespace ophtha::report_detail
